#!/usr/bin/python3
# XMPP device for the xmpp connector tests, built on slixmpp (Debian's
# python3-slixmpp). Usage: device.py JID PASSWORD PORT tls|plain
# Reads JSON commands on stdin: {"to": "...", "body": "..."} sends a chat
# message. Prints {"ready": true} once online and {"from", "body",
# "thread"} for every message; a message with a thread is answered in
# that thread with {"ok": true, "got": <body>}.
import asyncio, json, ssl, sys
import slixmpp

def out(o):
    sys.stdout.write(json.dumps(o) + "\n")
    sys.stdout.flush()

class Device(slixmpp.ClientXMPP):
    def __init__(self, jid, password):
        super().__init__(jid, password)
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("message", self.on_message)

    async def start(self, _):
        self.send_presence()
        await self.get_roster()
        out({"ready": True})

    def on_message(self, m):
        out({"from": str(m["from"]), "body": m["body"], "thread": m["thread"]})
        if m["thread"]:
            r = m.reply(json.dumps({"ok": True, "got": m["body"]}))
            r["thread"] = m["thread"]
            r.send()

jid, password, port, mode = sys.argv[1:5]
dev = Device(jid, password)
dev["feature_mechanisms"].unencrypted_plain = True
dev.ssl_context.check_hostname = False
dev.ssl_context.verify_mode = ssl.CERT_NONE
tls = mode == "tls"
dev.connect(address=("127.0.0.1", int(port)), disable_starttls=not tls, force_starttls=tls)
loop = dev.loop

def on_stdin():
    line = sys.stdin.readline()
    if not line:
        dev.disconnect()
        loop.call_later(0.5, loop.stop)
        loop.remove_reader(sys.stdin.fileno())
        return
    cmd = json.loads(line)
    dev.send_message(mto=cmd["to"], mbody=cmd["body"], mtype="chat")
    out({"sent": cmd["body"]})

loop.add_reader(sys.stdin.fileno(), on_stdin)
loop.run_forever()

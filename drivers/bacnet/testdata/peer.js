// A BACnet/IP test peer built on @bacnet-js/client: one or more devices,
// each on its own UDP port, serving analog/binary/multi-state objects whose
// values change, with ReadProperty, ReadPropertyMultiple (segmented when
// the answer is long), WriteProperty with a priority array,
// WritePropertyMultiple and SubscribeCOV. Usage:
//   node peer.js '<json config>'
// config: {"host":"127.0.0.1","changeMs":200,"devices":[{"port":47901,
//   "instance":1001,"name":"Dev1","analogInputs":3,"maxApdu":1476,
//   "segmentation":true,"rpm":true,"cov":true}]}
// It prints "ready <port>" per device, then one line per request it served
// ("rpm <port> <n objects>", "write <port> <obj> <prop> <value> <prio>", ...).
const Bacnet = require("@bacnet-js/client").default;
const { ObjectType: OT, PropertyIdentifier: P, ApplicationTag: T } = require("@bacnet-js/client");
const lib = p => require("@bacnet-js/client/dist/lib/" + p);
const baApdu = lib("apdu"), baNpdu = lib("npdu"), baBvlc = lib("bvlc"), services = lib("services");

const cfg = JSON.parse(process.argv[2]);
const host = cfg.host || "127.0.0.1";
const log = s => process.stdout.write(s + "\n");
const ALL = 8, ERR = (c, e) => [{ value: { type: "BacnetError", errorClass: c, errorCode: e } }];
const analog = t => [OT.ANALOG_INPUT, OT.ANALOG_OUTPUT, OT.ANALOG_VALUE].includes(t);
const binary = t => [OT.BINARY_INPUT, OT.BINARY_OUTPUT, OT.BINARY_VALUE].includes(t);
const commandable = t => [OT.ANALOG_OUTPUT, OT.BINARY_OUTPUT, OT.MULTI_STATE_OUTPUT, OT.ANALOG_VALUE, OT.BINARY_VALUE].includes(t);
const pvTag = t => analog(t) ? T.REAL : binary(t) ? T.ENUMERATED : T.UNSIGNED_INTEGER;

function makeDevice(d) {
  const c = new Bacnet({ port: d.port, interface: d.bind || host, broadcastAddress: d.broadcast || host, apduTimeout: 2000 });
  const objects = new Map();
  const key = o => `${o.type}:${o.instance}`;
  const add = (type, instance, name, pv) => {
    const o = { type, instance, name, pv, prio: new Array(16).fill(null), relinquish: pv, units: 62 };
    objects.set(key(o), o);
    return o;
  };
  const dev = add(OT.DEVICE, d.instance, d.name || `Device ${d.instance}`, 0);
  for (let i = 0; i < (d.analogInputs || 0); i++) add(OT.ANALOG_INPUT, i, `AI ${i}`, 20 + i);
  for (let i = 0; i < (d.analogValues || 0); i++) add(OT.ANALOG_VALUE, i, `AV ${i}`, 1.5 * i);
  add(OT.ANALOG_OUTPUT, 1, "AO 1", 0);
  add(OT.BINARY_INPUT, 1, "BI 1", 0);
  add(OT.BINARY_VALUE, 1, "BV 1", 1);
  add(OT.BINARY_OUTPUT, 1, "BO 1", 0);
  add(OT.MULTI_STATE_VALUE, 1, "MSV 1", 2);
  const subs = []; // {addr, pid, obj, until}

  const pvOf = o => {
    if (!commandable(o.type)) return o.pv;
    const p = o.prio.find(x => x !== null);
    return p === undefined ? o.relinquish : p;
  };
  const prop = (o, id) => {
    switch (id) {
      case P.OBJECT_IDENTIFIER: return [{ type: T.OBJECTIDENTIFIER, value: { type: o.type, instance: o.instance } }];
      case P.OBJECT_NAME: return [{ type: T.CHARACTER_STRING, value: o.name }];
      case P.OBJECT_TYPE: return [{ type: T.ENUMERATED, value: o.type }];
    }
    if (o.type === OT.DEVICE) {
      switch (id) {
        case P.OBJECT_LIST: return [...objects.values()].map(x => ({ type: T.OBJECTIDENTIFIER, value: { type: x.type, instance: x.instance } }));
        case P.VENDOR_IDENTIFIER: return [{ type: T.UNSIGNED_INTEGER, value: 15 }];
        case P.MAX_APDU_LENGTH_ACCEPTED: return [{ type: T.UNSIGNED_INTEGER, value: d.maxApdu || 1476 }];
        case P.SEGMENTATION_SUPPORTED: return [{ type: T.ENUMERATED, value: d.segmentation === false ? 3 : 0 }];
      }
      return null;
    }
    switch (id) {
      case P.PRESENT_VALUE: return [{ type: pvTag(o.type), value: pvOf(o) }];
      case P.STATUS_FLAGS: return [{ type: T.BIT_STRING, value: { bitsUsed: 4, value: [o.prio[7] !== null ? 0x20 : 0] } }];
      case P.OUT_OF_SERVICE: return [{ type: T.BOOLEAN, value: false }];
      case P.UNITS: return analog(o.type) ? [{ type: T.ENUMERATED, value: o.units }] : null;
      case P.PRIORITY_ARRAY: return commandable(o.type) ? o.prio.map(v => v === null ? { type: T.NULL, value: null } : { type: pvTag(o.type), value: v }) : null;
      case P.RELINQUISH_DEFAULT: return commandable(o.type) ? [{ type: pvTag(o.type), value: o.relinquish }] : null;
    }
    return null;
  };
  const allProps = o => o.type === OT.DEVICE
    ? [P.OBJECT_IDENTIFIER, P.OBJECT_NAME, P.OBJECT_TYPE, P.VENDOR_IDENTIFIER]
    : [P.OBJECT_IDENTIFIER, P.OBJECT_NAME, P.OBJECT_TYPE, P.PRESENT_VALUE, P.STATUS_FLAGS, P.OUT_OF_SERVICE, P.UNITS].filter(p => prop(o, p));
  const find = oid => objects.get(`${oid.type}:${oid.instance}`);

  // Answers longer than the APDU size go out in segments, window by window.
  const segState = new Map();
  function sendSegmented(to, invokeId, service, encodeBody, maxApdu) {
    const big = { buffer: Buffer.alloc(65536), offset: 0 };
    encodeBody(big);
    const body = big.buffer.subarray(0, big.offset);
    const per = maxApdu - 5;
    if (body.length + 3 <= maxApdu) return false;
    if (d.segmentation === false) {
      const b = c._getApduBuffer(to);
      baNpdu.encode(b, 0, to);
      b.buffer[b.offset++] = 0x71; b.buffer[b.offset++] = invokeId; b.buffer[b.offset++] = 4; // abort segmentationNotSupported
      c.sendBvlc(to, b);
      return true;
    }
    const segs = [];
    for (let i = 0; i < body.length; i += per) segs.push(body.subarray(i, i + per));
    const st = { to, segs, invokeId, service, window: 1 };
    segState.set(invokeId, st);
    const send = (seq) => {
      const b = c._getApduBuffer(to);
      baNpdu.encode(b, 0, to);
      const more = seq < segs.length - 1 ? 0x04 : 0;
      baApdu.encodeComplexAck(b, 0x30 | 0x08 | more, service, invokeId, seq, 16);
      segs[seq].copy(b.buffer, b.offset); b.offset += segs[seq].length;
      c.sendBvlc(to, b);
    };
    st.sendFrom = (seq) => { for (let s = seq; s < Math.min(seq + st.window, segs.length); s++) send(s); };
    send(0);
    log(`segmented ${d.port} ${segs.length}`);
    return true;
  }
  const origSeg = c._processSegment.bind(c);
  c._processSegment = (msg, server, buf, off, len) => {
    if ((msg.type & 0xF0) !== 0x40) return origSeg(msg, server, buf, off, len);
    const st = segState.get(msg.originalInvokeId);
    if (!st) return;
    st.window = msg.actualWindowSize || 1;
    if (msg.sequencenumber + 1 >= st.segs.length) { segState.delete(msg.originalInvokeId); return; }
    st.sendFrom(msg.sequencenumber + 1);
  };

  c.on("whoIs", m => {
    const { lowLimit, highLimit } = m.payload || {};
    if (lowLimit !== undefined && (d.instance < lowLimit || d.instance > highLimit)) return;
    log(`whois ${d.port}`);
    c.iAmResponse(m.header.sender, d.instance, d.segmentation === false ? 3 : 0, 15);
  });
  c.on("readProperty", m => {
    const { objectId, property } = m.payload;
    const o = find(objectId);
    if (!o) return c.errorResponse(m.header.sender, m.service, m.invokeId, 1, 31);
    let v = prop(o, property.id);
    if (!v) return c.errorResponse(m.header.sender, m.service, m.invokeId, 2, 32);
    if (property.index !== undefined && property.index !== 0xFFFFFFFF) {
      v = property.index === 0 ? [{ type: T.UNSIGNED_INTEGER, value: v.length }] : [v[property.index - 1]];
      if (!v[0]) return c.errorResponse(m.header.sender, m.service, m.invokeId, 2, 42);
    }
    const maxApdu = Math.min(d.maxApdu || 1476, 1476);
    if (sendSegmented(m.header.sender, m.invokeId, 12, b => services.ReadProperty.encodeAcknowledge(b, objectId, property.id, property.index, v), maxApdu)) return;
    c.readPropertyResponse(m.header.sender, m.invokeId, objectId, property, v);
  });
  c.on("readPropertyMultiple", m => {
    if (d.rpm === false) return c.errorResponse(m.header.sender, m.service, m.invokeId, 5, 29); // never reached: rejected below
    const out = m.payload.properties.map(spec => {
      const o = find(spec.objectId);
      const values = [];
      for (const p of spec.properties) {
        if (!o) { values.push({ property: { id: p.id, index: 0xFFFFFFFF }, value: ERR(1, 31) }); continue; }
        const ids = p.id === ALL ? allProps(o) : [p.id];
        for (const id of ids) {
          const v = prop(o, id);
          values.push({ property: { id, index: 0xFFFFFFFF }, value: v || ERR(2, 32) });
        }
      }
      return { objectId: spec.objectId, values };
    });
    log(`rpm ${d.port} ${out.length}`);
    const maxApdu = Math.min(d.maxApdu || 1476, 1476);
    if (sendSegmented(m.header.sender, m.invokeId, 14, b => services.ReadPropertyMultiple.encodeAcknowledge(b, out), maxApdu)) return;
    c.readPropertyMultipleResponse(m.header.sender, m.invokeId, out);
  });
  const write = (objectId, pv, sender) => {
    const o = find(objectId);
    if (!o) return [1, 31];
    const v = pv.value[0] ? pv.value[0].value : null;
    const prio = pv.priority || 16;
    if (pv.property.id === P.OBJECT_NAME) { o.name = String(v); log(`rename ${d.port} ${o.type}:${o.instance} ${o.name}`); notify(o); return null; }
    if (pv.property.id !== P.PRESENT_VALUE) return [2, 40];
    if (o.type === OT.ANALOG_INPUT || o.type === OT.BINARY_INPUT) return [2, 40];
    const tag = pv.value[0] ? pv.value[0].type : T.NULL;
    if (tag !== T.NULL && tag !== pvTag(o.type)) return [2, 9]; // invalidDataType
    if (commandable(o.type)) o.prio[prio - 1] = v; else o.pv = v;
    log(`write ${d.port} ${o.type}:${o.instance} ${pv.property.id} ${v} ${prio}`);
    notify(o);
    return null;
  };
  c.on("writeProperty", m => {
    const e = write(m.payload.objectId, m.payload.value, m.header.sender);
    if (e) return c.errorResponse(m.header.sender, m.service, m.invokeId, e[0], e[1]);
    c.simpleAckResponse(m.header.sender, m.service, m.invokeId);
  });
  c.on("writePropertyMultiple", m => {
    let n = 0;
    const specs = m.payload.objectId ? [m.payload] : m.payload.values; // one object per request (the library decodes one)
    for (const spec of specs) for (const pv of spec.values) { write(spec.objectId, pv); n++; }
    log(`wpm ${d.port} ${n}`);
    c.simpleAckResponse(m.header.sender, m.service, m.invokeId);
  });
  c.on("subscribeCov", m => {
    const p = m.payload;
    if (d.cov === false) return c.errorResponse(m.header.sender, m.service, m.invokeId, 5, 29);
    const o = find(p.monitoredObjectId);
    if (!o) return c.errorResponse(m.header.sender, m.service, m.invokeId, 1, 31);
    for (let i = subs.length - 1; i >= 0; i--)
      if (subs[i].pid === p.subscriberProcessId && subs[i].addr === m.header.sender.address && subs[i].o === o) subs.splice(i, 1);
    c.simpleAckResponse(m.header.sender, m.service, m.invokeId);
    if (p.cancellationRequest) { log(`cancel ${d.port} ${o.type}:${o.instance}`); return; }
    const s = { addr: m.header.sender.address, pid: p.subscriberProcessId, o, until: Date.now() + (p.lifetime || 3600) * 1000, lifetime: p.lifetime };
    subs.push(s);
    log(`subscribe ${d.port} ${o.type}:${o.instance} ${p.lifetime}`);
    setTimeout(() => send(s), 20);
  });
  c.on("subscribeProperty", m => {
    const p = m.payload;
    if (d.cov === false) return c.errorResponse(m.header.sender, m.service, m.invokeId, 5, 29);
    const o = find(p.monitoredObjectId);
    if (!o || !prop(o, p.monitoredProperty.id)) return c.errorResponse(m.header.sender, m.service, m.invokeId, 1, 31);
    for (let i = subs.length - 1; i >= 0; i--)
      if (subs[i].pid === p.subscriberProcessId && subs[i].addr === m.header.sender.address && subs[i].o === o) subs.splice(i, 1);
    c.simpleAckResponse(m.header.sender, m.service, m.invokeId);
    if (p.cancellationRequest) { log(`cancel ${d.port} ${o.type}:${o.instance}`); return; }
    const s = { addr: m.header.sender.address, pid: p.subscriberProcessId, o, prop: p.monitoredProperty.id, until: Date.now() + (p.lifetime || 3600) * 1000 };
    subs.push(s);
    log(`subscribeprop ${d.port} ${o.type}:${o.instance} ${s.prop} ${p.lifetime}`);
    setTimeout(() => send(s), 20);
  });
  const send = s => {
    const left = Math.max(0, Math.round((s.until - Date.now()) / 1000));
    if (s.prop !== undefined) {
      c.unconfirmedCOVNotification({ address: s.addr }, s.pid, d.instance, { type: s.o.type, instance: s.o.instance }, left, [
        { property: { id: s.prop, index: 0xFFFFFFFF }, value: prop(s.o, s.prop) }]);
      return;
    }
    if (d.confirmedCov) {
      // Confirmed notifications: the subscriber must acknowledge each.
      c.confirmedCOVNotification({ address: s.addr }, { type: s.o.type, instance: s.o.instance }, s.pid, d.instance, left, [
        { property: { id: P.PRESENT_VALUE, index: 0xFFFFFFFF }, value: prop(s.o, P.PRESENT_VALUE) }])
        .then(() => log(`covack ${d.port}`), e => log(`covfail ${d.port} ${e.message}`));
      return;
    }
    c.unconfirmedCOVNotification({ address: s.addr }, s.pid, d.instance, { type: s.o.type, instance: s.o.instance }, left, [
      { property: { id: P.PRESENT_VALUE, index: 0xFFFFFFFF }, value: prop(s.o, P.PRESENT_VALUE) },
      { property: { id: P.STATUS_FLAGS, index: 0xFFFFFFFF }, value: prop(s.o, P.STATUS_FLAGS) }]);
  };
  const notify = o => {
    const now = Date.now();
    for (const s of subs) if (s.o === o && s.until > now) send(s);
  };
  if (cfg.changeMs) setInterval(() => {
    for (const o of objects.values()) {
      if (o.type === OT.ANALOG_INPUT) { o.pv = Math.round((o.pv + 0.25) * 100) / 100; notify(o); }
      if (o.type === OT.BINARY_INPUT) { o.pv = 1 - o.pv; notify(o); }
    }
  }, cfg.changeMs);
  if (d.rpm === false) {
    // A device without ReadPropertyMultiple: reject it as unrecognized.
    const orig = c._processServiceRequest.bind(c);
    c._processServiceRequest = (map, content, buf, off, len) => {
      if (content.service === 14 && (content.type & 0xF0) === 0) {
        const b = c._getApduBuffer(content.header.sender);
        baNpdu.encode(b, 0, content.header.sender);
        b.buffer[b.offset++] = 0x60; b.buffer[b.offset++] = content.invokeId; b.buffer[b.offset++] = 9;
        c.sendBvlc(content.header.sender, b);
        return;
      }
      return orig(map, content, buf, off, len);
    };
  }
  // As a BBMD: accept (or, with bbmdNak, refuse) foreign registrations.
  c.on("registerForeignDevice", m => {
    log(`register ${d.port} ${m.payload.ttl}`);
    c.resultResponse(m.header.sender, d.bbmdNak ? 0x30 : 0);
  });
  c.on("listening", () => log(`ready ${d.port}`));
  c.on("error", e => log(`error ${d.port} ${e.message}`));
  return c;
}

const clients = cfg.devices.map(makeDevice);

// A BACnet router: devices on network cfg.router.net reached through it.
// It strips DNET/DADR from what it forwards to the device behind it
// (cfg.router.devicePort on 127.0.0.1, MAC cfg.router.mac) and adds
// SNET/SADR to what comes back. Enough of a router for a client's view.
if (cfg.router) {
  const dgram = require("dgram");
  const r = cfg.router, sock = dgram.createSocket({ type: "udp4", reuseAddr: true });
  // The device side has its own socket: the library ignores requests
  // that seem to come from its own address.
  const dsock = dgram.createSocket("udp4");
  dsock.bind(0, "127.0.0.1");
  let gateway = null;
  const wrap = npdu => { const out = Buffer.concat([Buffer.from([0x81, 0x0a, 0, 0]), npdu]); out.writeUInt16BE(out.length, 2); return out; };
  dsock.on("message", (msg, rinfo) => {
    if (msg.length < 6 || msg[0] !== 0x81 || msg[4] !== 0x01 || !gateway || msg[5] & 0x28) return;
    const npdu = Buffer.concat([Buffer.from([0x01, msg[5] | 0x08, r.net >> 8, r.net & 0xff, 1, r.mac]), msg.subarray(6)]);
    sock.send(wrap(npdu), gateway.port, gateway.address);
  });
  sock.on("message", (msg, rinfo) => {
    if (msg.length < 6 || msg[0] !== 0x81 || msg[4] !== 0x01) return;
    const ctrl = msg[5];
    if (!(ctrl & 0x20) || ctrl & 0x08 || ctrl & 0x80) return;
    const dnet = msg.readUInt16BE(6), dlen = msg[8], dadr = msg.subarray(9, 9 + dlen);
    if (dnet !== r.net && dnet !== 0xffff) return;
    if (dlen > 0 && !(dlen === 1 && dadr[0] === r.mac)) return;
    gateway = { address: rinfo.address, port: rinfo.port };
    log(`route ${dnet} ${dlen ? dadr[0] : "*"}`);
    dsock.send(wrap(Buffer.concat([Buffer.from([0x01, ctrl & ~0x20]), msg.subarray(9 + dlen + 1)])), r.devicePort, "127.0.0.1");
  });
  sock.bind(r.port, r.bind || "0.0.0.0", () => log(`ready ${r.port}`));
}
process.on("SIGTERM", () => { clients.forEach(c => c.close()); process.exit(0); });
process.stdin.on("end", () => { clients.forEach(c => c.close()); process.exit(0); });
process.stdin.resume();

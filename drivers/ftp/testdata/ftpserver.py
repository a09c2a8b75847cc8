#!/usr/bin/python3
# Test FTP server for the drivers/ftp tests (Debian's python3-pyftpdlib):
#   ftpserver.py ROOT PORT [CERTFILE KEYFILE]
# serves ROOT on 127.0.0.1:PORT (0: a free port), user tb / secret (read-write)
# and anonymous (read-only), passive ports chosen by the kernel, explicit
# TLS (AUTH TLS) with the given certificate. Prints "PORT <n>" when ready.
import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.servers import FTPServer
from pyftpdlib.handlers import FTPHandler

root = sys.argv[1]
auth = DummyAuthorizer()
auth.add_user("tb", "secret", root, perm="elradfmwMT")
auth.add_anonymous(root)
handler = FTPHandler
if len(sys.argv) > 4:
    from pyftpdlib.handlers import TLS_FTPHandler
    handler = TLS_FTPHandler
    handler.certfile = sys.argv[3]
    handler.keyfile = sys.argv[4]
    handler.tls_control_required = True
    handler.tls_data_required = True
handler.authorizer = auth
handler.passive_ports = None
server = FTPServer(("127.0.0.1", int(sys.argv[2])), handler)
print("PORT %d" % server.address[1], flush=True)
server.serve_forever(timeout=0.5)

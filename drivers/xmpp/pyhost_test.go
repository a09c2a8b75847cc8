package xmpp

import _ "github.com/tbgw/tbgw/drivers/exec" // the Python converter host, for TestPythonConverter

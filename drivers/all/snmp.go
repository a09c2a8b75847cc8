//go:build !custom || drivers.snmp

package all

import _ "github.com/tbgw/tbgw/drivers/snmp"

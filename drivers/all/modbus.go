//go:build !custom || drivers.modbus

package all

import _ "github.com/tbgw/tbgw/drivers/modbus"

//go:build !custom || drivers.serial

package all

import _ "github.com/tbgw/tbgw/drivers/serial"

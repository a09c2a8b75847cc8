//go:build !custom || drivers.ble

package all

import _ "github.com/tbgw/tbgw/drivers/ble"

//go:build !custom || drivers.mqtt

package all

import _ "github.com/tbgw/tbgw/drivers/mqtt"

//go:build !custom || drivers.socket

package all

import _ "github.com/tbgw/tbgw/drivers/socket"

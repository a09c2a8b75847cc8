//go:build !custom || drivers.can

package all

import _ "github.com/tbgw/tbgw/drivers/can"

//go:build !custom || drivers.knx

package all

import _ "github.com/tbgw/tbgw/drivers/knx"

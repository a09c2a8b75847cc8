//go:build !custom || drivers.request

package all

import _ "github.com/tbgw/tbgw/drivers/request"

//go:build !custom || drivers.rest

package all

import _ "github.com/tbgw/tbgw/drivers/rest"

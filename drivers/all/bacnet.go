//go:build !custom || drivers.bacnet

package all

import _ "github.com/tbgw/tbgw/drivers/bacnet"

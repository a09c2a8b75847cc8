//go:build !custom || drivers.simulator

package all

import _ "github.com/tbgw/tbgw/drivers/simulator"

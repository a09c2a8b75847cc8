//go:build !custom || drivers.ocpp

package all

import _ "github.com/tbgw/tbgw/drivers/ocpp"

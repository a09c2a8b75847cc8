//go:build !custom || drivers.opcua

package all

import _ "github.com/tbgw/tbgw/drivers/opcua"

//go:build !custom || drivers.odbc

package all

import _ "github.com/tbgw/tbgw/drivers/odbc"

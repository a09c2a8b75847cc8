//go:build !custom || drivers.ftp

package all

import _ "github.com/tbgw/tbgw/drivers/ftp"

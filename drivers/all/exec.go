//go:build !custom || drivers.exec

package all

import _ "github.com/tbgw/tbgw/drivers/exec"

//go:build !custom || drivers.xmpp

package all

import _ "github.com/tbgw/tbgw/drivers/xmpp"

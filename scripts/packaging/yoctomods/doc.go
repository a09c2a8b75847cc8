// Command yoctomods writes the two files a Yocto go-mod recipe requires:
// <pn>-go-mods.inc (one gomod:// SRC_URI entry per module zip or go.mod
// file the go command needs, with its sha256) and <pn>-licenses.inc (the
// license file of each module package the binary links, with md5 and
// SPDX name). It is what bitbake's do_update_modules task does, run
// without bitbake: `go list -deps` in a fresh module cache, then the
// cache's download directory is listed. The list is made with the build
// tags of the opt-in SQL drivers (-tags, default odbc.sqlite,odbc.mssql)
// so that the recipe builds with any PACKAGECONFIG.
//
//	go run ./scripts/packaging/yoctomods -pkg github.com/tbgw/tbgw \
//	    -out yocto/meta-tbgw/recipes-connectivity/tbgw -pn tbgw
//
// It also copies the listed files, and only those, into -cache DIR when
// given: the module cache bitbake's gomod fetcher would unpack, for an
// offline build that proves the list complete.
//
// Non-goals: the license classification is by key phrases of the common
// licenses (Apache-2.0, MIT, BSD-2/3-Clause, ISC, MPL-2.0); anything else
// is written as Unknown for a person to resolve.
package main

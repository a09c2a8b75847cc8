// Command pkglint checks the packaging files of this tree (Buildroot
// external, OpenWrt package, Yocto layer) against the rules their build
// systems' own linters enforce, where those linters cannot run here:
// Buildroot's utils/check-package (its .mk, Config.in, .hash and
// whitespace rules), the bitbake recipe syntax and layer.conf keys, and
// the OpenWrt package Makefile layout. It also checks facts a linter
// cannot: license hashes against the files they name.
//
//	go run ./scripts/packaging/pkglint          # the tree this runs in
//	go run ./scripts/packaging/pkglint -root DIR
//
// Non-goals: evaluating make or bitbake (scripts/packaging/*-check.sh build
// the packages with each system's Go environment), style beyond what the
// upstream linters reject.
package main

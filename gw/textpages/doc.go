// Package textpages gives back the executable's file pages that only the
// start-up touched.
//
// Every package initialiser that runs faults in the page of the binary it
// lives on, and the kernel maps up to 64 KiB around each such fault
// (fault-around), with as much again of read-only data and line tables:
// with all connectors linked in, the initialisers alone leave 10–12 MB of
// the binary mapped, most of which the running gateway never touches
// again. Release unmaps the binary's read-only mappings once the gateway
// has started; the pages stay in the page cache (clean, shared with any
// other mapping of the file, the first the kernel reclaims under
// pressure), and those the gateway still runs fault back in on first use.
//
// Non-goals: the writable data segment (its pages may hold state), and
// other operating systems than Linux (Release does nothing there).
package textpages

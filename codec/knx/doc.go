// Package knx is KNX without I/O: group and individual addresses in their
// three notations, KNXnet/IP frames (search, connect, connection state,
// disconnect, tunnelling, routing), cEMI L_Data frames carrying
// GroupValueRead/Response/Write, and the datapoint type (DPT) codecs that
// upstream gateway configurations name, by number ("9.001") or by name
// ("temperature", "percentU8", "string").
//
//	ga, _ := knx.ParseGroup("1/0/6", knx.Long)
//	t, _ := knx.LookupDPT("temperature")
//	data, _ := t.Encode(21.5)                         // 0x0c 0x33
//	frame := knx.CEMI{Code: knx.LDataReq, Ctrl1: 0xbc, Ctrl2: 0xe0, Dst: uint16(ga),
//	    APCI: knx.GroupValueWrite, Data: data}.Append(nil)
//
// Every decoder returns an error for malformed input and never panics;
// each is fuzzed.
//
// Non-goals: KNX IP Secure and KNXnet/IP over TCP (framing here is the
// UDP one), device management services (property read/write, memory,
// programming), the KNX TP1 data link.
package knx

package socketcan

// MaxFilters is the kernel's limit of receive filters per socket
// (CAN_RAW_FILTER_MAX); with more, Open filters nothing in the kernel.
const MaxFilters = 512

// Filter passes data frames with exactly this identifier.
type Filter struct {
	ID       uint32
	Extended bool
}

// Options of a CAN_RAW socket.
type Options struct {
	// FD enables CAN FD frames (the interface must have the CAN FD MTU).
	FD bool
	// Filters, when not nil, are the only data frames the kernel delivers
	// (an empty non-nil list: none). nil delivers every data frame, as
	// does a list longer than MaxFilters.
	Filters []Filter
	// ErrorFrames asks for the driver's error frames (bus-off, error
	// passive, restarts, ...).
	ErrorFrames bool
	// ReceiveOwn delivers the socket's own sent frames back to it.
	ReceiveOwn bool
	// ReadBuffer, when positive, is the socket's receive buffer in bytes
	// (SO_RCVBUF; the kernel counts about 200 bytes of it per frame and
	// caps it at net.core.rmem_max). Frames arriving while it is full are
	// dropped by the kernel.
	ReadBuffer int
}

package storage

import (
	"errors"
	"log/slog"
)

// openLog opens the write-ahead log a file or sqlite block describes.
func openLog(c Config, overflow Overflow, log *slog.Logger) (Store, error) {
	_, _ = c.logOptions(overflow, log)
	return nil, errors.New("storage: file storage is not available yet")
}

package simulate

import (
	"sync"
	"time"
)

var zones sync.Map // name -> *time.Location (nil if unknown)

// LoadZone returns the location of an IANA timezone name, or nil if the
// name is empty or unknown. Locations are loaded once and kept.
func LoadZone(name string) *time.Location {
	if name == "" {
		return nil
	}
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		l = nil
	}
	zones.Store(name, l)
	return l
}

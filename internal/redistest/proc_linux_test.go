//go:build linux

package redistest

import (
	"errors"
	"syscall"
)

// processGone reports whether no process with this pid exists (the server
// has exited and been reaped).
func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

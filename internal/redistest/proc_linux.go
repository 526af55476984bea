//go:build linux

package redistest

import (
	"os/exec"
	"syscall"
)

// setSysProcAttr makes the kernel SIGKILL the server if the test binary dies
// (a -timeout panic or a crash skips t.Cleanup).
func setSysProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

//go:build !linux

package redistest

import "os/exec"

// setSysProcAttr does nothing outside Linux: servers are stopped by t.Cleanup.
func setSysProcAttr(cmd *exec.Cmd) {}

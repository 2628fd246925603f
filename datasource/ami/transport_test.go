package ami

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Each HTTP attempt is bounded on its own, and an attempt that times out is
// retried: with a long lookup timeout, a silent endpoint costs max_retries
// bounded attempts, not the whole timeout.
func TestExecuteAttemptsAreBoundedAndRetried(t *testing.T) {
	saved := responseHeaderTimeout
	responseHeaderTimeout = 500 * time.Millisecond
	t.Cleanup(func() { responseHeaderTimeout = saved })

	isolateAWS(t)
	bh := newBlackHole(t)
	d := mustConfigure(t, fmt.Sprintf(`
app_name            = "ponyfoo"
region              = %q
custom_endpoint_ec2 = %q
timeout             = "60s"
max_retries         = 2
`, testRegion, bh.URL()))

	err, took := executeWithin(t, d, 30*time.Second)
	t.Logf("Execute returned after %s: %v", took.Round(time.Millisecond), err)
	if err == nil {
		t.Fatal("Execute succeeded against an endpoint that never answers")
	}
	// Two attempts of 0.5 s plus the retryer's backoff (at most 2 s after
	// the first attempt), far below the 60 s timeout.
	if took > 10*time.Second {
		t.Errorf("Execute took %s; the attempts are not bounded by the response header timeout", took)
	}
	for _, want := range []string{"timeout awaiting response headers", bh.URL(), "DescribeImages failed (page 1)",
		"no attempt got an answer in time"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "timed out after 60s") {
		t.Errorf("the lookup's timeout fired, not the attempt's:\n%v", err)
	}
	// One connection per attempt: the transport gave up on the first and
	// the retryer tried again, as max_retries = 2 allows, and no more.
	if n := bh.connections(); n != 2 {
		t.Errorf("the black hole accepted %d connections, want 2 (max_retries = 2)", n)
	}
}

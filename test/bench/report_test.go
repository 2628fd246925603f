//go:build bench

package bench

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// row is one line of the results table.
type row struct{ Part, What, Measured, Notes string }

var (
	mu      sync.Mutex
	rows    []row
	details []string // per-step tables, printed under the main one
)

// record adds a line to the results table and prints it at once.
func record(part, what, measured, notes string) {
	mu.Lock()
	defer mu.Unlock()
	rows = append(rows, row{part, what, measured, notes})
	fmt.Printf("bench: %s | %s | %s | %s\n", part, what, measured, notes)
}

// detail adds a block of Markdown (a per-step table) under the results.
func detail(md string) {
	mu.Lock()
	defer mu.Unlock()
	details = append(details, md)
	fmt.Println(md)
}

// TestMain prints the table once every benchmark has run and, when
// BENCH_DOC names a file (make bench: docs/benchmarks.md) and all passed,
// writes it there with the date, the machine and the command.
func TestMain(m *testing.M) {
	flag.Parse()
	start, loadStart := time.Now(), loadavg()
	code := m.Run()
	table := render(time.Since(start), loadStart, loadavg())
	fmt.Println("\n" + table)
	if doc := os.Getenv("BENCH_DOC"); doc != "" && code == 0 && len(rows) > 0 {
		if err := os.WriteFile(filepath.Join(root(), doc), []byte(table), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			code = 1
		} else {
			fmt.Println("bench: wrote", doc)
		}
	}
	os.Exit(code)
}

// loadavg is the host's load average (1, 5, 15 min): other work on a
// shared machine shows in the numbers.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func render(took time.Duration, loadStart, loadEnd string) string {
	var b strings.Builder
	b.WriteString("# Benchmarks\n\n")
	b.WriteString("Measured side by side in one run by `make bench` (test/bench), on sandbox targets:\n")
	b.WriteString("a booted Debian 12 with systemd in a network namespace, reached over SSH by Packer's `null` builder.\n")
	b.WriteString("Numbers are what this machine measured in that run, not promises: other machines and networks differ.\n\n")
	fmt.Fprintf(&b, "- date: %s (the run took %s)\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), took.Round(time.Second))
	fmt.Fprintf(&b, "- machine: %s\n", machine())
	fmt.Fprintf(&b, "- load average (1, 5, 15 min): %s at the start, %s at the end (with %d cores, above %d means other work shared the machine)\n",
		loadStart, loadEnd, runtime.NumCPU(), runtime.NumCPU())
	fmt.Fprintf(&b, "- command: `%s` (`go test -tags bench -count=1 -v ./test/bench/`, run as root)\n", command())
	fmt.Fprintf(&b, "- %s, Go %s\n\n", packerVersion(), runtime.Version())
	b.WriteString("| part | what | measured | ratio / notes |\n|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.Part, r.What, r.Measured, r.Notes)
	}
	for _, d := range details {
		b.WriteString("\n" + d + "\n")
	}
	return b.String()
}

func command() string {
	if c := os.Getenv("BENCH_COMMAND"); c != "" {
		return c
	}
	return "go test -tags bench ./test/bench/"
}

// machine: cores, CPU model, memory, and whether the benchmarks ran under
// emulation (a VM, a container, or TCG).
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				model = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"), "%d", &kb)
		mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
	}
	virt := "unknown"
	if out, err := exec.Command("systemd-detect-virt").Output(); err == nil || len(out) > 0 {
		virt = strings.TrimSpace(string(out))
	}
	emu := "no emulation: the sandbox targets run on the host's kernel (systemd-nspawn), not under CPU emulation"
	if _, err := os.Stat("/sys/module/kvm_pvm"); err == nil {
		emu += "; this host's KVM is kvm_pvm, so VM images (test/vm) would run under TCG emulation"
	}
	return fmt.Sprintf("%d cores (%s)%s, virtualisation: %s; %s; %s/%s", runtime.NumCPU(), model, mem, virt, emu, runtime.GOOS, runtime.GOARCH)
}

func packerVersion() string {
	out, err := exec.Command(packerBin(), "version").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}

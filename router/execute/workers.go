package execute

import "time"

// workers runs the branches of Parallel nodes on goroutines that outlive one
// execution: a fresh goroutine per branch grows its stack through the HTTP
// client on every request (copying it each time), a reused one has grown it
// already. A branch goes to an idle worker if one is waiting, else to a new
// goroutine, which then stays to wait for more work until it has been idle
// for a while; nothing ever waits for a worker, so nesting cannot deadlock.
type workers struct {
	tasks chan func()
	idle  time.Duration
}

func newWorkers(idle time.Duration) *workers {
	return &workers{tasks: make(chan func()), idle: idle}
}

// run runs task on another goroutine.
func (w *workers) run(task func()) {
	select {
	case w.tasks <- task:
	default:
		go w.loop(task)
	}
}

func (w *workers) loop(task func()) {
	timer := time.NewTimer(w.idle)
	defer timer.Stop()
	for {
		task()
		timer.Reset(w.idle)
		select {
		case task = <-w.tasks:
		case <-timer.C:
			return
		}
	}
}

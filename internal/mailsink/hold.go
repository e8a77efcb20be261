package mailsink

// Hold makes every message wait, once its body has arrived, until release
// is called: a provider that answers nothing until told to, so a test can
// count how many sends a client keeps in flight at once (Stats.InFlight)
// without racing a timer. release is safe to call twice; messages that
// arrive after it pass at once.
func (s *Sink) Hold() (release func()) {
	ch := make(chan struct{})
	s.hold.Store(&ch)
	var once bool
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !once {
			once = true
			s.hold.CompareAndSwap(&ch, nil)
			close(ch)
		}
	}
}

// waitHeld blocks a message while a Hold is in force.
func (s *Sink) waitHeld() {
	if ch := s.hold.Load(); ch != nil {
		<-*ch
	}
}

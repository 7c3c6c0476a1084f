// Package trust is the agent's trust state: what it needs to give a right
// verdict at the door when the network is down or the device clock is
// wrong.
//
//   - Clock keeps the offset to central's clock, learned from every answer
//     that carries central's time, carried on the monotonic clock and
//     persisted; it raises the "check the clock" alarm when the device
//     clock is off by more than the tolerance, and judges from the learned
//     offset either way.
//   - Keys is the issuer key set: fetched from central, cached on disk, and
//     kept in force with a warning when a fetch fails.
//   - Verifier judges a scanned text: signed tokens offline against Keys at
//     the corrected time; opaque tokens (by configured pattern) and tokens
//     of unknown keys online, with a short timeout, falling back to
//     "recorded, pending".
//   - Client calls central for all three.
//
// docs/protocol.md ("Verdicts", "Time", "Issuer key set", "Online
// verification") describes the behaviour and the wire format.
package trust

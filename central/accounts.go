package central

import (
	"crypto/rand"
	"errors"
	"net/http"
	"strings"

	"github.com/kipass/kipass/central/api"
)

// badField answers 400 with reason "bad_<field>" (or "missing_<field>").
func badField(w http.ResponseWriter, field, why string) {
	reason := "bad_" + field
	if why == "missing" {
		reason = "missing_" + field
	}
	writeError(w, http.StatusBadRequest, reason, field+": "+strings.ReplaceAll(why, "_", " "))
}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	var reg api.Registration
	if !decodeBody(w, r, &reg) {
		return
	}
	f := api.Facility{Status: api.FacilityHeld}
	if strings.TrimSpace(reg.BusinessNumber) != "" {
		n, err := NormalizeBusinessNumber(reg.BusinessNumber)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_business_number", err.Error())
			return
		}
		f.BusinessNumber, f.Status = n, api.FacilityActive
	}
	for _, c := range []struct {
		field, value string
		max          int
	}{
		{"name", reg.Name, 100}, {"representative", reg.Representative, 50}, {"address", reg.Address, 200},
	} {
		if why := checkText(c.value, c.max, false); why != "" {
			badField(w, c.field, why)
			return
		}
	}
	if checkPhone(reg.Phone) != "" {
		badField(w, "phone", "not a Korean phone number")
		return
	}
	bt, ok := businessType(reg.BusinessType)
	if !ok {
		badField(w, "business_type", "unknown business type; see "+api.PathBusinessTypes)
		return
	}
	now := s.opts.Clock.Now()
	f.ID = newID("F-")
	f.Name, f.Representative, f.Phone = strings.TrimSpace(reg.Name), strings.TrimSpace(reg.Representative), strings.TrimSpace(reg.Phone)
	f.Address = strings.Join(strings.Fields(reg.Address), " ")
	f.BusinessType, f.HighRisk, f.CreatedAt = bt.Code, bt.HighRisk, now
	secret := newSecret("kpm_")
	// A branch under a number that already has an active facility: its
	// representative is told, through the outbox, in the same transaction.
	notices, err := s.branchNotice(r.Context(), f)
	if err != nil {
		s.storeFailed(w, "register the facility", err)
		return
	}
	err = s.st.CreateFacility(r.Context(), f, Credential{
		Hash: hashSecret(secret), Role: RoleManager, Facility: f.ID, Subject: "manager", CreatedAt: now,
	}, notices...)
	switch {
	case errors.Is(err, ErrConflict):
		writeError(w, http.StatusConflict, "branch_exists", "a branch with this business number and address is already registered")
		return
	case err != nil:
		s.storeFailed(w, "register the facility", err)
		return
	}
	s.opts.Log.Info("facility registered", "facility", f.ID, "status", f.Status, "type", f.BusinessType, "notices", len(notices))
	writeJSON(w, http.StatusCreated, api.Registered{Facility: f, ManagerCredential: secret})
}

func (s *Server) handleFacilities(w http.ResponseWriter, r *http.Request, _ principal) {
	status := r.URL.Query().Get("status")
	if status != "" && status != api.FacilityActive && status != api.FacilityHeld && status != api.FacilityDisputed && status != api.FacilityRemoved {
		writeError(w, http.StatusBadRequest, "bad_status", "status must be active, held, disputed or removed")
		return
	}
	fs, err := s.st.Facilities(r.Context(), status)
	if err != nil {
		s.storeFailed(w, "list facilities", err)
		return
	}
	writeJSON(w, http.StatusOK, api.Facilities{Facilities: fs})
}

func (s *Server) handleFacility(w http.ResponseWriter, r *http.Request, _ principal) {
	f, err := s.st.Facility(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "unknown_facility", "no such facility")
	case err != nil:
		s.storeFailed(w, "read the facility", err)
	default:
		writeJSON(w, http.StatusOK, f)
	}
}

func (s *Server) handleApprove(w http.ResponseWriter, r *http.Request, p principal) {
	id := r.PathValue("id")
	err := s.st.SetFacilityStatus(r.Context(), id, api.FacilityActive)
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "unknown_facility", "no such facility")
		return
	case err != nil:
		s.storeFailed(w, "approve the facility", err)
		return
	}
	s.opts.Log.Info("facility approved", "facility", id, "by", p.name)
	s.handleFacility(w, r, p)
}

// codeAlphabet has no 0/O, 1/I/L: codes are read aloud and typed.
const codeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// newCode returns a one-time enrollment code, XXXX-XXXX-XXXX (59 bits).
func newCode() string {
	b := make([]byte, 12)
	rand.Read(b)
	var sb strings.Builder
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(codeAlphabet[int(c)%len(codeAlphabet)])
	}
	return sb.String()
}

// normalizeCode folds case and drops dashes and spaces.
func normalizeCode(c string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToUpper(c))
}

func (s *Server) handleCode(w http.ResponseWriter, r *http.Request, _ principal) {
	var req api.CodeRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if why := checkText(req.Entrance, 64, false); why != "" {
		badField(w, "entrance", why)
		return
	}
	now := s.opts.Clock.Now()
	code := newCode()
	c := Code{Hash: hashSecret(normalizeCode(code)), Facility: r.PathValue("id"), Entrance: strings.TrimSpace(req.Entrance),
		CreatedAt: now, ExpiresAt: now.Add(s.opts.CodeValidity)}
	if err := s.st.AddCode(r.Context(), c); err != nil {
		s.storeFailed(w, "store the code", err)
		return
	}
	writeJSON(w, http.StatusCreated, api.EnrollmentCode{Code: code, Facility: c.Facility, Entrance: c.Entrance, ExpiresAt: c.ExpiresAt})
}

func (s *Server) handleEnroll(w http.ResponseWriter, r *http.Request) {
	var req api.EnrollRequest
	if !decodeBody(w, r, &req) {
		return
	}
	code := normalizeCode(req.Code)
	if len(code) != 12 || strings.Trim(code, codeAlphabet) != "" {
		writeError(w, http.StatusBadRequest, "bad_code", "an enrollment code is 12 letters and digits, XXXX-XXXX-XXXX")
		return
	}
	if why := checkText(req.Name, 64, true); why != "" {
		badField(w, "name", why)
		return
	}
	now := s.opts.Clock.Now()
	secret := newSecret("kpd_")
	d := api.Device{ID: newID("D-"), Name: strings.TrimSpace(req.Name), Enrolled: true, EnrolledAt: now}
	c, err := s.st.Enroll(r.Context(), hashSecret(code), d,
		Credential{Hash: hashSecret(secret), Role: RoleDevice, Subject: d.ID, Name: d.Name, CreatedAt: now}, now)
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusUnauthorized, "unknown_code", "no such enrollment code")
		return
	case errors.Is(err, ErrCodeUsed):
		writeError(w, http.StatusConflict, "code_used", "this enrollment code was already used; ask the manager for a new one")
		return
	case errors.Is(err, ErrCodeExpired):
		writeError(w, http.StatusGone, "code_expired", "this enrollment code has expired; ask the manager for a new one")
		return
	case err != nil:
		s.storeFailed(w, "enroll the device", err)
		return
	}
	s.opts.Log.Info("device enrolled", "facility", c.Facility, "device", d.ID, "entrance", c.Entrance)
	writeJSON(w, http.StatusCreated, api.Enrollment{Facility: c.Facility, Device: d.ID, Entrance: c.Entrance, Credential: secret})
}

func (s *Server) handleDevices(w http.ResponseWriter, r *http.Request, _ principal) {
	s.writeFleet(w, r, r.PathValue("id"), false)
}

func (s *Server) deviceResult(w http.ResponseWriter, err error, op string) bool {
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "unknown_device", "no such device in this facility")
		return false
	case err != nil:
		s.storeFailed(w, op, err)
		return false
	}
	return true
}

func (s *Server) handleEntrance(w http.ResponseWriter, r *http.Request, _ principal) {
	var req api.EntranceRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if why := checkText(req.Entrance, 64, false); why != "" {
		badField(w, "entrance", why)
		return
	}
	err := s.st.SetEntrance(r.Context(), r.PathValue("id"), r.PathValue("device"), strings.TrimSpace(req.Entrance))
	if s.deviceResult(w, err, "change the entrance") {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) handleRemoveDevice(w http.ResponseWriter, r *http.Request, p principal) {
	err := s.st.RemoveDevice(r.Context(), r.PathValue("id"), r.PathValue("device"), s.opts.Clock.Now())
	if s.deviceResult(w, err, "remove the device") {
		s.opts.Log.Info("device removed; its credential is revoked", "facility", r.PathValue("id"), "device", r.PathValue("device"))
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) handleStaffList(w http.ResponseWriter, r *http.Request, _ principal) {
	cs, err := s.st.Credentials(r.Context(), r.PathValue("id"), RoleStaff)
	if err != nil {
		s.storeFailed(w, "list staff", err)
		return
	}
	out := api.StaffList{Staff: []api.Staff{}}
	for _, c := range cs {
		out.Staff = append(out.Staff, api.Staff{ID: c.Subject, Name: c.Name, CreatedAt: c.CreatedAt})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleAddStaff(w http.ResponseWriter, r *http.Request, _ principal) {
	var req api.StaffRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if why := checkText(req.Name, 50, false); why != "" {
		badField(w, "name", why)
		return
	}
	now := s.opts.Clock.Now()
	secret := newSecret("kps_")
	st := api.Staff{ID: newID("S-"), Name: strings.TrimSpace(req.Name), CreatedAt: now, Credential: secret}
	err := s.st.AddCredential(r.Context(), Credential{Hash: hashSecret(secret), Role: RoleStaff,
		Facility: r.PathValue("id"), Subject: st.ID, Name: st.Name, CreatedAt: now})
	if err != nil {
		s.storeFailed(w, "add the staff account", err)
		return
	}
	writeJSON(w, http.StatusCreated, st)
}

func (s *Server) handleRemoveStaff(w http.ResponseWriter, r *http.Request, _ principal) {
	id := r.PathValue("staff")
	if !strings.HasPrefix(id, "S-") {
		writeError(w, http.StatusNotFound, "unknown_staff", "no such staff account")
		return
	}
	err := s.st.RevokeCredential(r.Context(), r.PathValue("id"), id, s.opts.Clock.Now())
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "unknown_staff", "no such staff account")
	case err != nil:
		s.storeFailed(w, "remove the staff account", err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// credentialPrefix tells a credential's role at a glance in a file.
var credentialPrefix = map[Role]string{RoleDevice: "kpd_", RoleManager: "kpm_", RoleStaff: "kps_"}

func (s *Server) handleRotate(w http.ResponseWriter, r *http.Request, p principal) {
	now := s.opts.Clock.Now()
	secret := newSecret(credentialPrefix[p.role])
	err := s.st.RotateCredential(r.Context(), Credential{Hash: hashSecret(secret), Role: p.role, Facility: p.facility,
		Subject: p.subject, Name: p.name, CreatedAt: now}, now)
	if err != nil {
		s.storeFailed(w, "rotate the credential", err)
		return
	}
	s.opts.Log.Info("credential rotated; the old one works until the new one is used", "facility", p.facility, "subject", p.subject, "role", p.role)
	writeJSON(w, http.StatusCreated, api.Rotation{Credential: secret, Role: string(p.role), Facility: p.facility, Subject: p.subject, IssuedAt: now.In(api.KST)})
}

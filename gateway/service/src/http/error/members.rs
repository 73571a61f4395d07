//! Statuses of enrolment's refusals.

use domain::members::EnrolmentError;

use super::ApiError;

impl From<EnrolmentError> for ApiError {
    fn from(err: EnrolmentError) -> Self {
        let (code, detail) = (err.code(), err.to_string());
        match err {
            EnrolmentError::InvalidData(_) => {
                Self::unprocessable(code, "Invalid member data", detail)
            }
            EnrolmentError::PhoneTaken => Self::conflict(code, "Member already enrolled", detail),
            EnrolmentError::InviteCodeUnknown => {
                Self::unprocessable(code, "Unknown invite code", detail)
            }
            EnrolmentError::ReferralSelf => Self::unprocessable(code, "Self-referral", detail),
            EnrolmentError::ReferralPhoneReused => {
                Self::conflict(code, "Phone already enrolled", detail)
            }
            EnrolmentError::Branch(err) => err.into(),
        }
    }
}

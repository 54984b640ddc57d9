//! What became of a slot and of a task: every payment, release and penalty carries one of these
//! codes and a sentence, so a provider always learns why it was slashed or unpaid and a
//! requester why it was refunded.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::codec::{Decode, DecodeError, Encode, Reader};

macro_rules! fates {
    ($(#[$doc:meta])* $enum:ident, $what:literal; $($tag:literal => $v:ident = $code:literal, $sentence:literal,)*) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $enum {
            $($v,)*
        }

        impl $enum {
            /// Every code, in tag order.
            pub const CODES: &[&str] = &[$($code),*];

            /// Stable code for scripts and dashboards.
            pub fn code(&self) -> &'static str {
                match self {
                    $($enum::$v => $code,)*
                }
            }

            /// What happened and why, in one sentence.
            pub fn sentence(&self) -> &'static str {
                match self {
                    $($enum::$v => $sentence,)*
                }
            }

            /// Every value, in tag order.
            pub const ALL: &[$enum] = &[$($enum::$v),*];
        }

        impl fmt::Display for $enum {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.sentence())
            }
        }

        impl Encode for $enum {
            fn encode(&self, out: &mut Vec<u8>) {
                out.push(match self {
                    $($enum::$v => $tag,)*
                });
            }
        }

        impl Decode for $enum {
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                match u8::decode(r)? {
                    $($tag => Ok($enum::$v),)*
                    tag => Err(DecodeError::InvalidTag { what: $what, tag }),
                }
            }
        }
    };
}

fates! {
    /// What became of one provider's slot in a task.
    SlotFate, "slot fate";
    0 => Pending = "pending", "the slot is claimed and its result not yet settled",
    1 => Paid = "paid", "the result was verified and paid from the job's escrow; the bond was released",
    2 => WrongResult = "wrong_result", "the result differed from the verified majority (after referees re-ran the task); the bond was forfeited and the requester refunded",
    3 => CanaryFailed = "canary_failed", "the result differed from the answer the requester knew for this canary task, and the referees who re-ran the task agreed with the requester; the bond was forfeited and the provider is unpaid for the rest of the job",
    4 => NotRevealed = "not_revealed", "the result was committed but not revealed within the reveal timeout; a withheld result is treated as a wrong one and the bond was forfeited",
    5 => Abandoned = "abandoned", "the claim expired without a commitment; the task returned to the pool and a share of the bond (abandon_penalty_bps) was forfeited",
    6 => Rejected = "rejected", "the requester rejected the result; the task was re-opened, the bond released, and the result unpaid (a rejection is not proof of a wrong result, so no stake is lost)",
    7 => Released = "released", "the task ended without a verdict on this result (no majority, no spot-checker, or the deadline passed while others were still working); the bond was released unpaid and nothing forfeited",
    8 => Withheld = "withheld", "the provider was caught on a canary of this job, so this result is unpaid; the bond was released",
}

fates! {
    /// How a task ended.
    TaskOutcome, "task outcome";
    0 => Verified = "verified", "the result was verified and paid; unused escrow returns to the requester",
    1 => NoMajority = "no_majority", "even after referees no result had a strict majority: nobody was paid or slashed and the requester was refunded",
    2 => CheckUnavailable = "check_unavailable", "the task was picked for a spot-check but no other provider re-ran it before the deadline: unpaid, unslashed, refunded",
    3 => Expired = "expired", "the deadline passed before the task had a verified result: the requester was refunded",
    4 => RejectedOut = "rejected_out", "the requester rejected the task's result too many times: the task was refunded",
    5 => Withheld = "withheld", "the task's provider was caught on a canary of this job: the result is unpaid and the requester refunded",
    6 => Failed = "failed", "the task's result was wrong and its provider slashed: the requester was refunded",
    7 => CanaryDisproved = "canary_disproved", "the requester's committed answer for this canary task was wrong: the referees who re-ran the task agreed with the provider, who was paid and not slashed; the requester's escrow paid the referees",
}

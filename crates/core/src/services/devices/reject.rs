//! Why a device registry action (or a module's use of the registry) was refused.

use std::fmt;

use crate::crypto::Address;
use crate::module::reasons;

reasons! {
    /// A refused registry action, or a device a module cannot use.
    DeviceRejection, "device rejection";
    0 => UnknownDevice { device: Address } = "unknown_device",
    1 => NotOwner { device: Address, owner: Address } = "not_device_owner",
    2 => DeviceExists { device: Address } = "device_exists",
    3 => BadDeviceSignature {} = "bad_device_signature",
    4 => Denied { device: Address } = "denylisted",
    5 => WrongModule { device: Address, module: String } = "wrong_module",
}

impl fmt::Display for DeviceRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DeviceRejection::*;
        match self {
            UnknownDevice { device } => write!(
                f,
                "{device} is not an onboarded device (never onboarded, or retired); onboard it first"
            ),
            NotOwner { device, owner } => write!(
                f,
                "device {device} belongs to {owner}; only its owner may change it"
            ),
            DeviceExists { device } => write!(
                f,
                "device {device} is already onboarded; use a new device key, or transfer the device from its owner"
            ),
            BadDeviceSignature {} => write!(
                f,
                "the device key's signature does not verify; the device signs with its own key, over exactly the bytes the action names"
            ),
            Denied { device } => write!(
                f,
                "device {device} is on the governed denylist; its reports and traffic are not accepted"
            ),
            WrongModule { device, module } => write!(
                f,
                "device {device} is registered to the {module} module; this action is for another module's devices"
            ),
        }
    }
}

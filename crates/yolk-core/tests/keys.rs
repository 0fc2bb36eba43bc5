//! `Keys` against reference computations and hostile input.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::Sha256;
use yolk_core::keys::{Keys, KeysError};

fn reference_sig(key: &[u8], data: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    mac.update(data);
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn random_bytes(rng: &mut StdRng, max: usize) -> Vec<u8> {
    let len = rng.random_range(0..max);
    (0..len).map(|_| rng.random()).collect()
}

#[test]
fn sign_matches_the_reference_for_random_keys_and_data() {
    let mut rng = StdRng::seed_from_u64(1);
    for _ in 0..500 {
        let mut key = random_bytes(&mut rng, 80);
        key.push(rng.random());
        let data = random_bytes(&mut rng, 300);
        let keys = Keys::new([&key]);
        let sig = keys.sign(&data).unwrap();
        assert_eq!(sig, reference_sig(&key, &data));
        assert!(
            !sig.contains(['+', '/', '=']),
            "Egg's url-safe, unpadded form"
        );
        assert_eq!(keys.verify(&data, &sig), Some(0));
    }
}

#[test]
fn parse_trims_and_skips_empty_entries() {
    let keys = Keys::parse(" a , ,b,").unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys.sign(b"x").unwrap(), reference_sig(b"a", b"x"));
    let old = Keys::parse("b").unwrap().sign(b"x").unwrap();
    assert_eq!(keys.verify(b"x", &old), Some(1));
}

#[test]
fn rotation_over_three_generations() {
    let generations = ["k1", "k2", "k3"];
    let current = Keys::parse("k3,k2,k1").unwrap();
    for (age, key) in generations.iter().rev().enumerate() {
        let single = Keys::parse(key).unwrap();
        let sig = single.sign(b"data").unwrap();
        assert_eq!(current.verify(b"data", &sig), Some(age));
        let sealed = single.encrypt(b"data").unwrap();
        assert_eq!(current.decrypt(&sealed), Some((b"data".to_vec(), age)));
    }
    // Retiring k1 makes its cookies unreadable.
    let retired = Keys::parse("k3,k2").unwrap();
    let sig = Keys::parse("k1").unwrap().sign(b"data").unwrap();
    assert_eq!(retired.verify(b"data", &sig), None);
}

#[test]
fn decrypt_and_verify_never_panic_on_random_input() {
    let keys = Keys::parse("k2,k1").unwrap();
    let mut rng = StdRng::seed_from_u64(2);
    for _ in 0..5_000 {
        let bytes = random_bytes(&mut rng, 120);
        let lossy = String::from_utf8_lossy(&bytes);
        let encoded = URL_SAFE_NO_PAD.encode(&bytes);
        assert_eq!(keys.decrypt(&lossy), None);
        assert_eq!(keys.decrypt(&encoded), None);
        assert_eq!(keys.verify(&bytes, &lossy), None);
        assert_eq!(keys.verify(&bytes, &encoded), None);
    }
}

#[test]
fn errors_tell_the_fix() {
    let no_keys = KeysError::NoKeys.to_string();
    assert!(no_keys.contains("config/config.default.toml"));
    assert!(no_keys.contains("YOLK_KEYS"));

    let keys = Keys::parse("0123456789abcdef0123,tiny").unwrap();
    let err = keys.check_strength(16).unwrap_err();
    assert!(matches!(
        err,
        KeysError::TooShort {
            index: 1,
            len: 4,
            min: 16
        }
    ));
    let message = err.to_string();
    assert!(message.contains("index 1"), "{message}");
    assert!(message.contains("at least 16 random bytes"), "{message}");
    assert!(!message.contains("tiny"), "never prints key material");
    assert!(keys.check_strength(4).is_ok());
}

#[test]
fn debug_hides_key_material() {
    let keys = Keys::parse("super-secret-1,super-secret-2").unwrap();
    assert_eq!(format!("{keys:?}"), "Keys { count: 2 }");
    assert_eq!(format!("{keys:#?}").matches("secret").count(), 0);
}

use proptest::prelude::*;

use super::*;
use floe_lake::ids::{RunId, TaskId};

const KEY: &str = "k1-0123456789abcdef0123456789abcdef";
const OLD: &str = "k0-fedcba9876543210fedcba9876543210";

fn task() -> TaskMessage {
    TaskMessage {
        run_id: RunId::new("run-1"),
        task_id: TaskId::new("task-1"),
        contract: Some(crate::contract::ContractRef::of(
            "[pipeline]\nname = \"orders\"\n",
        )),
        contract_text: String::new(),
        contract_origin: "orders.toml".into(),
        inputs: vec!["bronze/orders/2025-01-02/part-0.csv".into()],
        fingerprints: Default::default(),
        ranges: Default::default(),
        partition: Some("2025-01-02".into()),
        trace_context: Default::default(),
        gold: None,
        dedupe: None,
        pass: None,
        append: false,
        staged: false,
    }
}

fn keys(text: &str) -> SigningKeys {
    SigningKeys::parse(text).unwrap()
}

#[test]
fn a_sealed_task_opens_to_itself() {
    let k = keys(KEY);
    assert_eq!(k.open(&k.seal(&task())).unwrap(), task());
}

#[test]
fn a_plain_task_is_refused_as_unsigned() {
    assert_eq!(keys(KEY).open(&task().to_json()), Err(Refusal::Unsigned));
    assert_eq!(keys(KEY).open("not json"), Err(Refusal::Unsigned));
}

#[test]
fn another_key_is_unknown() {
    let body = keys(OLD).seal(&task());
    assert_eq!(keys(KEY).open(&body), Err(Refusal::UnknownKey));
}

#[test]
fn an_altered_task_fails_its_signature() {
    let k = keys(KEY);
    let body = k.seal(&task());
    let mut envelope: Envelope = serde_json::from_str(&body).unwrap();
    envelope.task = envelope
        .task
        .replace("bronze/orders/2025-01-02/part-0.csv", "/proc/self/environ");
    let forged = serde_json::to_string(&envelope).unwrap();
    assert_eq!(k.open(&forged), Err(Refusal::BadSignature));
    // A signature copied from another task does not fit either.
    let mut other = task();
    other.inputs = vec!["/proc/self/environ".into()];
    let mut swapped: Envelope = serde_json::from_str(&k.seal(&other)).unwrap();
    swapped.sig = serde_json::from_str::<Envelope>(&body).unwrap().sig;
    let swapped = serde_json::to_string(&swapped).unwrap();
    assert_eq!(k.open(&swapped), Err(Refusal::BadSignature));
}

#[test]
fn during_a_rotation_both_keys_verify_and_the_first_signs() {
    let rotating = keys(&format!("{KEY},{OLD}"));
    let by_old = keys(OLD).seal(&task());
    assert_eq!(rotating.open(&by_old).unwrap(), task());
    let by_rotating = rotating.seal(&task());
    assert_eq!(keys(KEY).open(&by_rotating).unwrap(), task());
    assert_eq!(keys(OLD).open(&by_rotating), Err(Refusal::UnknownKey));
    // Newline-separated, as in a key file.
    assert_eq!(
        keys(&format!("{KEY}\n{OLD}\n")).open(&by_old).unwrap(),
        task()
    );
}

#[test]
fn short_or_empty_keys_are_refused_with_advice() {
    assert!(SigningKeys::parse(" , \n").unwrap_err().contains("empty"));
    let e = SigningKeys::parse(&format!("{KEY},short")).unwrap_err();
    assert!(
        e.contains("key 2 of 2") && e.contains("openssl rand"),
        "{e}"
    );
}

#[test]
fn keys_never_print() {
    let k = keys(KEY);
    let shown = format!("{k:?} {}", k.seal(&task()));
    assert!(!shown.contains(KEY), "{shown}");
}

#[test]
fn the_plain_codec_takes_plain_and_sealed_bodies() {
    let plain = TaskCodec::Plain;
    assert_eq!(plain.decode(&plain.encode(&task())).unwrap(), task());
    assert_eq!(plain.decode(&keys(KEY).seal(&task())).unwrap(), task());
    let signed = TaskCodec::Signed(keys(KEY));
    assert_eq!(signed.decode(&signed.encode(&task())).unwrap(), task());
    assert_eq!(
        signed.decode(&plain.encode(&task())),
        Err(Refusal::Unsigned)
    );
}

proptest! {
    /// Changing any one character of the signed task never yields a task.
    #[test]
    fn any_change_to_the_task_is_refused(at in 0usize..400, with in proptest::char::range('!', '~')) {
        let k = keys(KEY);
        let mut envelope: Envelope = serde_json::from_str(&k.seal(&task())).unwrap();
        let chars: Vec<char> = envelope.task.chars().collect();
        let at = at % chars.len();
        prop_assume!(chars[at] != with);
        let mut changed = chars;
        changed[at] = with;
        envelope.task = changed.into_iter().collect();
        let body = serde_json::to_string(&envelope).unwrap();
        prop_assert_eq!(k.open(&body), Err(Refusal::BadSignature));
    }
}

//! A DNS server on loopback that answers any record type from a zone
//! table and can set the AD bit, as a validating resolver does for
//! DNSSEC-signed answers (the Postfix policy server's DANE tests). UDP
//! only: the answers stay small.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::tlsa::{CertUsage, Matching, Selector};
use hickory_proto::rr::rdata::{A, MX, TLSA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// What the server says for one (name, type).
#[derive(Clone, Debug)]
pub enum ZoneAnswer {
    /// These records; `authenticated` sets AD on the answer.
    Records {
        /// The records (their type must match the question's).
        data: Vec<RData>,
        /// Set the AD bit.
        authenticated: bool,
    },
    /// RCODE 2.
    ServFail,
    /// RCODE 3.
    NxDomain,
}

/// An A record.
pub fn a(ip: [u8; 4]) -> RData {
    RData::A(A::new(ip[0], ip[1], ip[2], ip[3]))
}

/// An MX record.
pub fn mx(preference: u16, exchange: &str) -> RData {
    RData::MX(MX::new(
        preference,
        Name::from_ascii(format!("{}.", exchange.trim_end_matches('.'))).unwrap(),
    ))
}

/// A TXT record of one string.
pub fn txt(s: &str) -> RData {
    RData::TXT(TXT::new(vec![s.to_owned()]))
}

/// A TLSA record `3 1 1 <digest>` (DANE-EE, SPKI, SHA-256).
pub fn tlsa_3_1_1(digest: [u8; 32]) -> RData {
    RData::TLSA(TLSA::new(
        CertUsage::DaneEe,
        Selector::Spki,
        Matching::Sha256,
        digest.to_vec(),
    ))
}

/// The server. Names not in the table answer NXDOMAIN; a name in the
/// table asked for a type it lacks answers NOERROR with no records.
pub struct ZoneServer {
    /// Where it listens (UDP).
    pub addr: SocketAddr,
    table: Arc<Mutex<HashMap<(String, RecordType), ZoneAnswer>>>,
    queries: Arc<AtomicUsize>,
}

impl ZoneServer {
    /// Starts the server thread on 127.0.0.1 (it lives as long as the
    /// process).
    pub fn start() -> ZoneServer {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = udp.local_addr().unwrap();
        let table: Arc<Mutex<HashMap<(String, RecordType), ZoneAnswer>>> = Arc::default();
        let queries = Arc::new(AtomicUsize::new(0));
        {
            let table = table.clone();
            let queries = queries.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok((n, peer)) = udp.recv_from(&mut buf) {
                    queries.fetch_add(1, Ordering::SeqCst);
                    if let Some(out) = respond(&table, &buf[..n]) {
                        let _ = udp.send_to(&out, peer);
                    }
                }
            });
        }
        ZoneServer {
            addr,
            table,
            queries,
        }
    }

    /// Sets the answer for `name` (any case, with or without the root
    /// dot) and `rtype`.
    pub fn set(&self, name: &str, rtype: RecordType, answer: ZoneAnswer) {
        self.table.lock().unwrap().insert(
            (name.trim_end_matches('.').to_ascii_lowercase(), rtype),
            answer,
        );
    }

    /// Sets unauthenticated records.
    pub fn records(&self, name: &str, rtype: RecordType, data: Vec<RData>) {
        self.set(
            name,
            rtype,
            ZoneAnswer::Records {
                data,
                authenticated: false,
            },
        );
    }

    /// Queries so far.
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}

fn respond(
    table: &Mutex<HashMap<(String, RecordType), ZoneAnswer>>,
    query: &[u8],
) -> Option<Vec<u8>> {
    let q = Message::from_vec(query).ok()?;
    let question = q.queries.first()?.clone();
    let mut key = question.name().to_ascii().to_ascii_lowercase();
    if key.ends_with('.') {
        key.pop();
    }
    let t = table.lock().unwrap();
    let known = t.keys().any(|(n, _)| *n == key);
    let answer = t.get(&(key, question.query_type())).cloned();
    drop(t);
    let mut r = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
    r.metadata.recursion_desired = q.metadata.recursion_desired;
    r.metadata.recursion_available = true;
    r.add_query(question.clone());
    match answer {
        Some(ZoneAnswer::Records {
            data,
            authenticated,
        }) => {
            r.metadata.authentic_data = authenticated;
            for d in data {
                r.add_answer(Record::from_rdata(question.name().clone(), 60, d));
            }
        }
        Some(ZoneAnswer::ServFail) => r.metadata.response_code = ResponseCode::ServFail,
        Some(ZoneAnswer::NxDomain) => r.metadata.response_code = ResponseCode::NXDomain,
        None if known => {}
        None => r.metadata.response_code = ResponseCode::NXDomain,
    }
    r.to_vec().ok()
}

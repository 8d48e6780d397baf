//! The loopback DNS server answers as the tests that use it expect: by
//! name, by (name, type), with the AD bit per server or per answer, and
//! with or without the SOA of negative answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use sts_test_support::zone::{self, ZoneAnswer, ZoneServer};
use sts_test_support::{txt1, DnsAnswer, DnsServer};

fn ask(server: SocketAddr, name: &str, rtype: RecordType) -> Message {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut q = Message::new(4242, MessageType::Query, OpCode::Query);
    q.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    sock.send_to(&q.to_vec().unwrap(), server).unwrap();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).unwrap();
    let r = Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(r.metadata.id, 4242);
    r
}

fn answers(r: &Message) -> Vec<RData> {
    r.answers.iter().map(|a| a.data.clone()).collect()
}

#[test]
fn an_answer_for_a_type_wins_over_the_names_answer_for_that_type_only() {
    let dns = DnsServer::start();
    dns.set("both.test", txt1("v=STSv1; id=a;"));
    dns.set_type("both.test", RecordType::A, DnsAnswer::ServFail);
    let txt = ask(dns.addr, "both.test.", RecordType::TXT);
    assert_eq!(txt.metadata.response_code, ResponseCode::NoError);
    assert_eq!(answers(&txt), vec![zone::txt("v=STSv1; id=a;")]);
    let a = ask(dns.addr, "BOTH.test.", RecordType::A);
    assert_eq!(a.metadata.response_code, ResponseCode::ServFail);
}

#[test]
fn rfc2308_2_2_a_name_known_for_other_types_is_nodata_an_unknown_one_nxdomain() {
    let dns = DnsServer::start();
    dns.records("mx.test", RecordType::A, vec![zone::a([127, 0, 0, 7])]);
    let a = ask(dns.addr, "mx.test.", RecordType::A);
    assert_eq!(answers(&a), vec![zone::a([127, 0, 0, 7])]);
    let aaaa = ask(dns.addr, "mx.test.", RecordType::AAAA);
    assert_eq!(aaaa.metadata.response_code, ResponseCode::NoError);
    assert!(aaaa.answers.is_empty());
    let other = ask(dns.addr, "other.test.", RecordType::A);
    assert_eq!(other.metadata.response_code, ResponseCode::NXDomain);
}

#[test]
fn rfc4035_3_2_3_ad_bit_per_answer_or_for_the_whole_server() {
    let dns = DnsServer::start();
    let tlsa = zone::tlsa_3_1_1([7; 32]);
    dns.set_type(
        "_25._tcp.signed.test",
        RecordType::TLSA,
        DnsAnswer::Authenticated(vec![tlsa.clone()]),
    );
    dns.records("_25._tcp.plain.test", RecordType::TLSA, vec![tlsa.clone()]);
    let signed = ask(dns.addr, "_25._tcp.signed.test.", RecordType::TLSA);
    assert!(signed.metadata.authentic_data);
    assert_eq!(answers(&signed), vec![tlsa.clone()]);
    let plain = ask(dns.addr, "_25._tcp.plain.test.", RecordType::TLSA);
    assert!(!plain.metadata.authentic_data);
    assert_eq!(answers(&plain), vec![tlsa]);
    dns.set_authenticated(true);
    let plain = ask(dns.addr, "_25._tcp.plain.test.", RecordType::TLSA);
    assert!(plain.metadata.authentic_data);
}

#[test]
fn rfc2308_3_negative_answers_carry_the_soa_unless_turned_off() {
    let dns = DnsServer::start();
    let nx = ask(dns.addr, "gone.test.", RecordType::TXT);
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(nx.authorities.len(), 1);
    assert_eq!(nx.authorities[0].record_type(), RecordType::SOA);
    assert_eq!(nx.authorities[0].ttl, 300);
    dns.set_negative_ttl(None);
    let nx = ask(dns.addr, "gone.test.", RecordType::TXT);
    assert!(nx.authorities.is_empty());
}

#[test]
fn zone_server_answers_by_name_and_type_without_soa() {
    let zs = ZoneServer::start();
    zs.set(
        "_25._tcp.mx.test",
        RecordType::TLSA,
        ZoneAnswer::Records {
            data: vec![zone::tlsa_3_1_1([1; 32])],
            authenticated: true,
        },
    );
    zs.records("mx.test", RecordType::MX, vec![zone::mx(10, "mx.test")]);
    zs.set("gone.test", RecordType::TXT, ZoneAnswer::NxDomain);
    let t = ask(zs.addr, "_25._tcp.mx.test.", RecordType::TLSA);
    assert!(t.metadata.authentic_data);
    assert_eq!(answers(&t), vec![zone::tlsa_3_1_1([1; 32])]);
    let m = ask(zs.addr, "mx.test.", RecordType::MX);
    assert!(!m.metadata.authentic_data);
    assert_eq!(answers(&m), vec![zone::mx(10, "mx.test")]);
    let nodata = ask(zs.addr, "mx.test.", RecordType::A);
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    assert!(nodata.answers.is_empty() && nodata.authorities.is_empty());
    let nx = ask(zs.addr, "gone.test.", RecordType::TXT);
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert!(nx.authorities.is_empty());
    assert_eq!(zs.queries(), 4);
}

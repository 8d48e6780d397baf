use super::*;

const HEADER: ReportHeader<'static> = ReportHeader {
    organization_name: b"Sender Org",
    day: 20_415, // 2025-11-23
    contact_info: b"tlsrpt@sender.example",
    report_id: b"2025-11-23T00:00:00Z_example.com",
};

fn write(
    f: impl FnOnce(&mut ReportWriter<'_>) -> Result<(), ReportError>,
    buf: &mut [u8],
) -> Result<usize, ReportError> {
    let mut w = ReportWriter::new(buf, &HEADER)?;
    f(&mut w)?;
    w.finish()
}

fn text(buf: &[u8], n: usize) -> &str {
    core::str::from_utf8(&buf[..n]).unwrap()
}

#[test]
fn rfc8460_4_4_empty_day() {
    let mut buf = [0u8; 512];
    let n = write(|_| Ok(()), &mut buf).unwrap();
    assert_eq!(
        text(&buf, n),
        "{\"organization-name\":\"Sender Org\",\"date-range\":{\"start-datetime\":\"2025-11-23T00:00:00Z\",\
         \"end-datetime\":\"2025-11-23T23:59:59Z\"},\"contact-info\":\"tlsrpt@sender.example\",\
         \"report-id\":\"2025-11-23T00:00:00Z_example.com\",\"policies\":[]}"
    );
}

#[test]
fn rfc8460_4_sts_policy_with_failures() {
    let mut buf = [0u8; 2048];
    let policy = b"version: STSv1\r\nmode: testing\r\nmx: *.mail.example.com\r\nmax_age: 86400\r\n";
    let n = write(
        |w| {
            w.policy(&PolicyEntry {
                policy_type: PolicyType::Sts,
                policy_strings: PolicyStrings::Text(policy),
                policy_domain: b"example.com",
                mx_hosts: &[b"*.mail.example.com"],
                successful: 5326,
                failed: 303,
            })?;
            w.failure(&FailureDetail {
                result_type: ResultType::CertificateExpired,
                sending_mta_ip: b"2001:db8:abcd:0012::1",
                receiving_mx_hostname: b"mx1.mail.example.com",
                receiving_mx_helo: b"",
                receiving_ip: b"",
                failed_session_count: 100,
                additional_information: b"",
                failure_reason_code: b"",
            })?;
            w.failure(&FailureDetail {
                result_type: ResultType::StarttlsNotSupported,
                sending_mta_ip: b"2001:db8:abcd:0013::1",
                receiving_mx_hostname: b"mx2.mail.example.com",
                receiving_mx_helo: b"mx2-1.mail.example.com",
                receiving_ip: b"203.0.113.56",
                failed_session_count: 200,
                additional_information: b"https://reports.example.com/detail?id=1",
                failure_reason_code: b"X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED",
            })
        },
        &mut buf,
    )
    .unwrap();
    let s = text(&buf, n);
    assert!(s.contains(
        "\"policies\":[{\"policy\":{\"policy-type\":\"sts\",\"policy-string\":[\"version: STSv1\",\"mode: testing\",\
         \"mx: *.mail.example.com\",\"max_age: 86400\"],\"policy-domain\":\"example.com\",\"mx-host\":[\"*.mail.example.com\"]},\
         \"summary\":{\"total-successful-session-count\":5326,\"total-failure-session-count\":303},\
         \"failure-details\":[{\"result-type\":\"certificate-expired\",\"sending-mta-ip\":\"2001:db8:abcd:0012::1\",\
         \"receiving-mx-hostname\":\"mx1.mail.example.com\",\"failed-session-count\":100},"
    ));
    assert!(s.ends_with(
        "\"receiving-ip\":\"203.0.113.56\",\"failed-session-count\":200,\
         \"additional-information\":\"https://reports.example.com/detail?id=1\",\
         \"failure-reason-code\":\"X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED\"}]}]}"
    ));
}

#[test]
fn rfc8460_4_3_every_result_type_name() {
    let names = [
        "starttls-not-supported",
        "certificate-host-mismatch",
        "certificate-expired",
        "certificate-not-trusted",
        "validation-failure",
        "tlsa-invalid",
        "dnssec-invalid",
        "dane-required",
        "sts-policy-fetch-error",
        "sts-policy-invalid",
        "sts-webpki-invalid",
    ];
    for (t, name) in ResultType::ALL.iter().zip(names) {
        assert_eq!(t.as_str(), name);
        assert_eq!(ResultType::from_name(name.as_bytes()), Ok(*t));
    }
    assert_eq!(
        ResultType::from_name(b"Certificate-Expired"),
        Err(ResultTypeError::Unknown)
    );
    assert_eq!(PolicyType::NoPolicyFound.as_str(), "no-policy-found");
}

#[test]
fn rfc8259_7_strings_are_escaped() {
    let mut buf = [0u8; 1024];
    let mut w = ReportWriter::new(
        &mut buf,
        &ReportHeader {
            organization_name: b"a\"b\\c\nd\x01e\x7f f\xff g\xc3\xa9",
            ..HEADER
        },
    )
    .unwrap();
    w.policy(&PolicyEntry {
        policy_type: PolicyType::NoPolicyFound,
        policy_strings: PolicyStrings::None,
        policy_domain: b"x.example",
        mx_hosts: &[],
        successful: 0,
        failed: 0,
    })
    .unwrap();
    let n = w.finish().unwrap();
    let s = text(&buf, n);
    assert!(
        s.starts_with(
            "{\"organization-name\":\"a\\\"b\\\\c\\nd\\u0001e\\u007f f\u{fffd} g\u{e9}\""
        ),
        "{s}"
    );
    assert!(s.contains(
        "{\"policy\":{\"policy-type\":\"no-policy-found\",\"policy-domain\":\"x.example\"},"
    ));
}

#[test]
fn every_short_buffer_is_an_error_not_a_truncated_report() {
    let mut big = [0u8; 1024];
    let one = |w: &mut ReportWriter<'_>| {
        w.policy(&PolicyEntry {
            policy_type: PolicyType::Tlsa,
            policy_strings: PolicyStrings::List(&[b"3 1 1 abcdef"]),
            policy_domain: b"example.net",
            mx_hosts: &[b"mx.example.net"],
            successful: 1,
            failed: 1,
        })?;
        w.failure(&FailureDetail {
            result_type: ResultType::TlsaInvalid,
            sending_mta_ip: b"192.0.2.1",
            receiving_mx_hostname: b"mx.example.net",
            receiving_mx_helo: b"",
            receiving_ip: b"",
            failed_session_count: 1,
            additional_information: b"",
            failure_reason_code: b"",
        })
    };
    let full = write(one, &mut big).unwrap();
    for size in 0..full {
        let mut small = [0u8; 1024];
        assert_eq!(
            write(one, &mut small[..size]),
            Err(ReportError::BufferTooSmall),
            "size {size}"
        );
    }
    let mut exact = [0u8; 1024];
    assert_eq!(write(one, &mut exact[..full]), Ok(full));
    assert_eq!(&exact[..full], &big[..full]);
}

#[test]
fn calls_out_of_order_are_refused() {
    let mut buf = [0u8; 512];
    let mut w = ReportWriter::new(&mut buf, &HEADER).unwrap();
    let f = FailureDetail {
        result_type: ResultType::ValidationFailure,
        sending_mta_ip: b"",
        receiving_mx_hostname: b"",
        receiving_mx_helo: b"",
        receiving_ip: b"",
        failed_session_count: 1,
        additional_information: b"",
        failure_reason_code: b"",
    };
    assert_eq!(w.failure(&f), Err(ReportError::OutOfOrder));
}

#[test]
fn civil_dates() {
    assert_eq!(civil_from_days(0), Some((1970, 1, 1)));
    assert_eq!(civil_from_days(59), Some((1970, 3, 1)));
    assert_eq!(civil_from_days(11_016), Some((2000, 2, 29)));
    assert_eq!(civil_from_days(11_017), Some((2000, 3, 1)));
    assert_eq!(civil_from_days(19_723), Some((2024, 1, 1)));
    assert_eq!(civil_from_days(20_415), Some((2025, 11, 23)));
    assert_eq!(civil_from_days(2_932_896), Some((9999, 12, 31)));
    assert_eq!(civil_from_days(2_932_897), None);
    assert_eq!(civil_from_days(u32::MAX), None);
}

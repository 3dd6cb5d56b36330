use firewall::{
    compile,
    load::{self, Kernel, attach, pins::Dirs},
    model::*,
    state::State,
};
use std::net::UdpSocket;
fn main() {
    let dirs = Dirs::current().unwrap();
    println!("{dirs:?}");
    let mut st = State::default();
    st.ruleset.input.rules.push(Rule {
        protocol: Some(Neg {
            value: 17,
            invert: false,
        }),
        source: None,
        destination: None,
        in_interface: None,
        out_interface: None,
        matches: vec![Match::Udp {
            sport: None,
            dport: Some(Neg {
                value: PortRange { lo: 9, hi: 9 },
                invert: false,
            }),
        }],
        target: Target::Drop,
    });
    st.counters[0].push(0);
    let compiled = compile::compile(&st, &attach::ifindex).unwrap();
    let (mut k, mut ebpf) = Kernel::install(&dirs).unwrap();
    k.swap_in(&compiled, &[0]).unwrap();
    let (att, skipped) = attach::attach_all(&mut ebpf, &dirs).unwrap();
    println!("{att:?} {skipped:?}");
    drop(ebpf);
    let r9 = UdpSocket::bind("127.0.0.1:9").unwrap();
    let r10 = UdpSocket::bind("127.0.0.1:10").unwrap();
    r9.set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .unwrap();
    r10.set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .unwrap();
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.send_to(b"hello", "127.0.0.1:9").unwrap();
    s.send_to(b"hello", "127.0.0.1:10").unwrap();
    let mut b = [0u8; 16];
    println!("port 9 got: {:?}", r9.recv(&mut b).is_ok());
    println!("port 10 got: {:?}", r10.recv(&mut b).is_ok());
    let k = Kernel::open(&dirs).unwrap().unwrap();
    println!(
        "rule counter {:?} input policy {:?} output policy {:?}",
        k.read(0).unwrap(),
        k.read(Kernel::policy_slot(0)).unwrap(),
        k.read(Kernel::policy_slot(2)).unwrap()
    );
    if std::env::var_os("KEEP").is_none() {
        load::remove_pins(&dirs).unwrap();
    }
}

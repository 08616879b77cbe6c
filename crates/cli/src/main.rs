fn main() { println!("krash: work in progress"); }

// refinery embeds migrations/ at compile time, and cargo does not know
// the macro read it: without this, a new migration file is not embedded
// until something else in this crate changes.
fn main() {
    println!("cargo::rerun-if-changed=../../migrations");
}

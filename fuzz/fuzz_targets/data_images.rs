//! Fuzz target: the image-folder reader (PNG or JPEG, grey and RGB, resized), one file
//! and a `normal/` folder holding it. Its bound is larger: a decoded image may be far larger
//! than its compressed file, up to the decoder limit the reader sets.
#![no_main]

use dasvdd_data::images::{load_image_folder, read_image};
use dasvdd_data::{ColourMode, ImageFolderOptions};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: dasvdd_fuzz::Guard = dasvdd_fuzz::Guard;

fuzz_target!(|data: &[u8]| {
    dasvdd_fuzz::guarded(data, dasvdd_fuzz::IMAGE_BASE, || {
        let normal = dasvdd_fuzz::scratch_dir().join("folder/normal");
        let _ = std::fs::create_dir_all(&normal);
        let p = normal.join("a.png");
        let _ = std::fs::write(&p, data);
        let _ = read_image(&p, &ImageFolderOptions::default());
        let rgb = ImageFolderOptions {
            width: 8,
            height: 8,
            colour: ColourMode::Rgb,
        };
        let _ = read_image(&p, &rgb);
        let _ = load_image_folder(&dasvdd_fuzz::scratch_dir().join("folder"), &rgb);
    });
});

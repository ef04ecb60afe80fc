//! The Rust structs whose bytes the shader reads or writes (`kernel.wgsl`),
//! checked against WGSL's layout by the compiler and, in a test, against the
//! shader itself as naga parses it.
//!
//! Each mirrored struct is `#[repr(C)]` and [`bytemuck::Pod`] (so it has no
//! hidden padding) and is declared with [`wgsl_layout!`], which asserts at
//! compile time its size and every field's offset, written out as WGSL's
//! layout rules give them for the WGSL struct of the same name
//! (<https://www.w3.org/TR/WGSL/#memory-layouts>):
//!
//! - `u32`, `i32` and `f32` are 4 bytes, aligned to 4;
//! - `vec2<T>` of a 4-byte `T` is 8 bytes aligned to 8, `vec3<T>` 12 bytes
//!   aligned to 16, `vec4<T>` 16 bytes aligned to 16;
//! - `array<E, N>` is aligned as `E`, its stride is `E`'s size rounded up to
//!   `E`'s alignment, and its size is `N` strides;
//! - a struct member starts at the end of the one before rounded up to the
//!   member's alignment; a struct is aligned as its most aligned member and
//!   its size is the end of its last member rounded up to that alignment
//!   (also the stride of an `array` of it, as in the storage buffers here);
//! - in the uniform address space an array's stride and a struct member's
//!   alignment are further rounded up to 16 (and a member after a struct
//!   member starts at a multiple of 16): the uniforms here (`Job`,
//!   `Reduce`) hold only 4-byte scalars, which these rules do not move.
//!
//! `#[repr(C)]` lays fields out in order, each at the end of the one before
//! rounded up to its alignment, so it gives the same bytes as long as every
//! field has the same size and alignment in both languages: here every field
//! is a 4-byte scalar or an array of them, and padding is written out as
//! fields.

/// Asserts at compile time that the `#[repr(C)]` struct `$t` has the size
/// and field offsets of the WGSL struct of the same name in `kernel.wgsl`,
/// every field listed in order with its WGSL offset; in tests it also
/// records the layout for [`tests`] to compare with the parsed shader.
macro_rules! wgsl_layout {
    ($t:ident, size $size:literal { $($field:ident: $off:literal),+ $(,)? }) => {
        const _: () = {
            assert!(size_of::<$t>() == $size, concat!(stringify!($t), " must be ", stringify!($size), " bytes, as in kernel.wgsl"));
            $(assert!(
                std::mem::offset_of!($t, $field) == $off,
                concat!(stringify!($t), "::", stringify!($field), " must be at byte ", stringify!($off), ", as in kernel.wgsl")
            );)+
        };
        #[cfg(test)]
        impl $crate::layout::Mirrored for $t {
            const WGSL: &'static str = stringify!($t);
            fn layout() -> $crate::layout::Layout {
                $crate::layout::Layout {
                    size: size_of::<$t>(),
                    fields: vec![$($crate::layout::field(stringify!($field), std::mem::offset_of!($t, $field), |s: &$t| &s.$field)),+],
                }
            }
        }
    };
}
pub(crate) use wgsl_layout;

/// A struct the shader shares with the host, as Rust lays it out.
#[cfg(test)]
pub(crate) trait Mirrored {
    /// The WGSL struct's name.
    const WGSL: &'static str;
    /// Size and fields, from `size_of` and `offset_of!`.
    fn layout() -> Layout;
}

/// A Rust struct's size and fields in order.
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct Layout {
    pub size: usize,
    pub fields: Vec<Field>,
}

/// One field: name, offset, its type as WGSL writes it, size.
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct Field {
    pub name: &'static str,
    pub offset: usize,
    pub wgsl: String,
    pub size: usize,
}

/// The field that `get` reads, at `offset`.
#[cfg(test)]
pub(crate) fn field<S, T: Wgsl>(name: &'static str, offset: usize, _get: fn(&S) -> &T) -> Field {
    Field { name, offset, wgsl: T::wgsl(), size: size_of::<T>() }
}

/// A Rust type's name in WGSL.
#[cfg(test)]
pub(crate) trait Wgsl {
    fn wgsl() -> String;
}

#[cfg(test)]
impl Wgsl for u32 {
    fn wgsl() -> String {
        "u32".into()
    }
}

#[cfg(test)]
impl Wgsl for f32 {
    fn wgsl() -> String {
        "f32".into()
    }
}

#[cfg(test)]
impl<T: Wgsl, const N: usize> Wgsl for [T; N] {
    fn wgsl() -> String {
        format!("array<{}, {N}>", T::wgsl())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::{Job, PointBounds, Reduce, Tile, WORKGROUP};
    use crate::model::{BLOCK, Outcome, PointParams};
    use crate::tally::{BINS, Partial, SLOTS};
    use wgpu::naga;

    fn parse(source: &str) -> naga::Module {
        naga::front::wgsl::parse_str(source).unwrap_or_else(|e| panic!("{}", e.emit_to_string(source)))
    }

    /// A member's type as WGSL writes it (the scalars and arrays the mirrored structs hold).
    fn wgsl_type(module: &naga::Module, ty: naga::Handle<naga::Type>) -> String {
        match &module.types[ty].inner {
            naga::TypeInner::Scalar(naga::Scalar { kind: naga::ScalarKind::Uint, width: 4 }) => "u32".into(),
            naga::TypeInner::Scalar(naga::Scalar { kind: naga::ScalarKind::Float, width: 4 }) => "f32".into(),
            naga::TypeInner::Array { base, size: naga::ArraySize::Constant(n), .. } => format!("array<{}, {n}>", wgsl_type(module, *base)),
            other => format!("{other:?}"),
        }
    }

    /// How `T` differs from the WGSL struct of its name, if it does.
    fn mismatch<T: Mirrored>(module: &naga::Module) -> Option<String> {
        let (name, rust) = (T::WGSL, T::layout());
        let Some(ty) = module.types.iter().find(|(_, t)| t.name.as_deref() == Some(name)) else {
            return Some(format!("kernel.wgsl has no struct {name}"));
        };
        let naga::TypeInner::Struct { members, span } = &ty.1.inner else {
            return Some(format!("{name} is not a struct in kernel.wgsl"));
        };
        if *span as usize != rust.size {
            return Some(format!("{name}: {span} bytes in WGSL, {} in Rust", rust.size));
        }
        if rust.fields.iter().map(|f| f.size).sum::<usize>() != rust.size {
            return Some(format!("{name}: the fields listed in wgsl_layout! do not cover the struct"));
        }
        let wgsl: Vec<_> = members
            .iter()
            .map(|m| {
                let size = module.types[m.ty].inner.size(module.to_ctx()) as usize;
                (m.name.as_deref(), m.offset as usize, wgsl_type(module, m.ty), size)
            })
            .collect();
        let rust: Vec<_> = rust.fields.iter().map(|f| (Some(f.name), f.offset, f.wgsl.clone(), f.size)).collect();
        if wgsl != rust {
            return Some(format!("{name}: WGSL members (name, offset, type, size) {wgsl:?}, Rust fields {rust:?}"));
        }
        None
    }

    /// Every mirrored struct's differences from `source`.
    fn mismatches(source: &str) -> Vec<String> {
        let m = parse(source);
        [
            mismatch::<PointParams>(&m),
            mismatch::<Outcome>(&m),
            mismatch::<Job>(&m),
            mismatch::<Tile>(&m),
            mismatch::<PointBounds>(&m),
            mismatch::<Partial>(&m),
            mismatch::<Reduce>(&m),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    #[test]
    fn rust_structs_have_the_kernels_layouts() {
        let kernel = include_str!("kernel.wgsl");
        assert_eq!(mismatches(kernel), Vec::<String>::new());
        // A change on the shader's side is caught: fields swapped, a type changed, padding dropped.
        for (from, to) in [
            ("    steps: u32,\n    dt_s: f32,", "    dt_s: f32,\n    steps: u32,"),
            ("    seed: u32,", "    seed: f32,"),
            ("    attainment_max: f32,\n    pad: u32,", "    attainment_max: f32,"),
            ("    pad1: u32,\n    pad2: u32,\n}", "    pad1: u32,\n}"),
        ] {
            assert!(kernel.contains(from), "{from}");
            let found = mismatches(&kernel.replacen(from, to, 1));
            assert_eq!(found.len(), 1, "{to}: {found:?}");
        }
    }

    #[test]
    fn constants_and_workgroups_agree_with_the_kernel() {
        let m = parse(include_str!("kernel.wgsl"));
        let constant = |name: &str| {
            let (_, c) = m.constants.iter().find(|(_, c)| c.name.as_deref() == Some(name)).unwrap_or_else(|| panic!("no const {name}"));
            match m.global_expressions[c.init] {
                naga::Expression::Literal(naga::Literal::U32(v)) => u64::from(v),
                ref e => panic!("{name} = {e:?}"),
            }
        };
        assert_eq!(constant("BLOCK"), u64::from(BLOCK));
        assert_eq!(constant("BINS"), BINS as u64);
        assert_eq!(constant("SLOTS"), SLOTS as u64);
        for name in ["main", "tally"] {
            let e = m.entry_points.iter().find(|e| e.name == name).unwrap_or_else(|| panic!("no entry point {name}"));
            assert_eq!(e.workgroup_size, [WORKGROUP as u32, 1, 1], "{name}");
        }
    }
}

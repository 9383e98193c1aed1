//! Renders a terminal capture with ANSI colours (`tmux capture-pane -e -p`) to a PNG, so the
//! screenshots in `screenshots/` are pictures of the real binary's screens.
//! Usage: ansi2png FONT.ttf IN.ansi OUT.png
use ab_glyph::{Font, FontVec, PxScale, ScaleFont};

#[derive(Clone, Copy, PartialEq)]
struct Style {
    fg: [u8; 3],
    bg: [u8; 3],
    bold: bool,
    reverse: bool,
}

const DEFAULT: Style = Style {
    fg: [0xd4, 0xd4, 0xd4],
    bg: [0x1e, 0x1e, 0x1e],
    bold: false,
    reverse: false,
};

const ANSI: [[u8; 3]; 16] = [
    [0x1e, 0x1e, 0x1e],
    [0xcd, 0x31, 0x31],
    [0x0d, 0xbc, 0x79],
    [0xe5, 0xe5, 0x10],
    [0x24, 0x72, 0xc8],
    [0xbc, 0x3f, 0xbc],
    [0x11, 0xa8, 0xcd],
    [0xe5, 0xe5, 0xe5],
    [0x66, 0x66, 0x66],
    [0xf1, 0x4c, 0x4c],
    [0x23, 0xd1, 0x8b],
    [0xf5, 0xf5, 0x43],
    [0x3b, 0x8e, 0xea],
    [0xd6, 0x70, 0xd6],
    [0x29, 0xb8, 0xdb],
    [0xff, 0xff, 0xff],
];

fn idx256(n: u8) -> [u8; 3] {
    match n {
        0..=15 => ANSI[n as usize],
        16..=231 => {
            let n = n - 16;
            let l = |c: u8| if c == 0 { 0 } else { 55 + 40 * c };
            [l(n / 36), l((n / 6) % 6), l(n % 6)]
        }
        _ => {
            let g = 8 + 10 * (n - 232);
            [g, g, g]
        }
    }
}

fn sgr(st: &mut Style, params: &[u16]) {
    let mut i = 0;
    let p = if params.is_empty() { &[0][..] } else { params };
    while i < p.len() {
        match p[i] {
            0 => *st = DEFAULT,
            1 => st.bold = true,
            22 => st.bold = false,
            7 => st.reverse = true,
            27 => st.reverse = false,
            n @ 30..=37 => st.fg = ANSI[(n - 30) as usize],
            39 => st.fg = DEFAULT.fg,
            n @ 40..=47 => st.bg = ANSI[(n - 40) as usize],
            49 => st.bg = DEFAULT.bg,
            n @ 90..=97 => st.fg = ANSI[(n - 90 + 8) as usize],
            n @ 100..=107 => st.bg = ANSI[(n - 100 + 8) as usize],
            n @ (38 | 48) => {
                let c = match p.get(i + 1) {
                    Some(5) => {
                        i += 2;
                        p.get(i).map(|v| idx256(*v as u8))
                    }
                    Some(2) => {
                        i += 4;
                        match (p.get(i - 2), p.get(i - 1), p.get(i)) {
                            (Some(r), Some(g), Some(b)) => Some([*r as u8, *g as u8, *b as u8]),
                            _ => None,
                        }
                    }
                    _ => None,
                };
                if let Some(c) = c {
                    if n == 38 { st.fg = c } else { st.bg = c }
                }
            }
            _ => {}
        }
        i += 1;
    }
}

fn parse(text: &str) -> Vec<Vec<(char, Style)>> {
    let mut lines = Vec::new();
    for line in text.split('\n') {
        let mut st = DEFAULT;
        let mut row = Vec::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' && chars.peek() == Some(&'[') {
                chars.next();
                let mut buf = String::new();
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        if d == 'm' {
                            let params: Vec<u16> =
                                buf.split(';').filter_map(|s| s.parse().ok()).collect();
                            sgr(&mut st, &params);
                        }
                        break;
                    }
                    buf.push(d);
                }
            } else if c != '\r' {
                row.push((c, st));
            }
        }
        lines.push(row);
    }
    while lines
        .last()
        .is_some_and(|l: &Vec<(char, Style)>| l.is_empty())
    {
        lines.pop();
    }
    lines
}

/// The dots of braille pattern `bits` (U+2800 + bits) in the cell at `at` of size `cell`.
fn braille(
    img: &mut [u8],
    w: usize,
    at: (usize, usize),
    cell: (usize, usize),
    bits: u32,
    fg: [u8; 3],
) {
    // Bit → (column, row) in Unicode's dot numbering.
    const DOTS: [(usize, usize); 8] = [
        (0, 0),
        (0, 1),
        (0, 2),
        (1, 0),
        (1, 1),
        (1, 2),
        (0, 3),
        (1, 3),
    ];
    let (cw, ch) = cell;
    let r = (cw / 5).max(1);
    for (i, (col, row)) in DOTS.iter().enumerate() {
        if bits & (1 << i) == 0 {
            continue;
        }
        let cx = at.0 + col * cw / 2 + cw / 4;
        let cy = at.1 + row * ch / 4 + ch / 8;
        for y in cy.saturating_sub(r)..=cy + r {
            for x in cx.saturating_sub(r)..=cx + r {
                let o = (y * w + x) * 3;
                if x < w && o + 3 <= img.len() {
                    img[o..o + 3].copy_from_slice(&fg);
                }
            }
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        return Err("usage: ansi2png FONT.ttf IN.ansi OUT.png".into());
    }
    let font = FontVec::try_from_vec(std::fs::read(&args[1])?)?;
    let lines = parse(&std::fs::read_to_string(&args[2])?);
    let scale = PxScale::from(18.0);
    let sf = font.as_scaled(scale);
    let cw = sf.h_advance(font.glyph_id('M')).ceil() as usize;
    let ch = (sf.ascent() - sf.descent()).ceil() as usize + 2;
    let cols = lines.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let (w, h) = (cols * cw, lines.len().max(1) * ch);
    let mut img = vec![0u8; w * h * 3];
    for px in img.chunks_mut(3) {
        px.copy_from_slice(&DEFAULT.bg);
    }
    for (y, row) in lines.iter().enumerate() {
        for (x, (c, st)) in row.iter().enumerate() {
            let (fg, bg) = if st.reverse {
                (st.bg, st.fg)
            } else {
                (st.fg, st.bg)
            };
            for yy in 0..ch {
                for xx in 0..cw {
                    let o = ((y * ch + yy) * w + x * cw + xx) * 3;
                    img[o..o + 3].copy_from_slice(&bg);
                }
            }
            if *c == ' ' {
                continue;
            }
            // Braille (the Metrics plots) is not in DejaVu Sans Mono: draw its dots.
            if let Some(bits) = (*c as u32).checked_sub(0x2800).filter(|b| *b < 0x100) {
                braille(&mut img, w, (x * cw, y * ch), (cw, ch), bits, fg);
                continue;
            }
            let glyph = font.glyph_id(*c).with_scale_and_position(
                scale,
                ab_glyph::point((x * cw) as f32, (y * ch) as f32 + sf.ascent() + 1.0),
            );
            if let Some(g) = font.outline_glyph(glyph) {
                let b = g.px_bounds();
                g.draw(|gx, gy, cov| {
                    let px = b.min.x as i64 + gx as i64;
                    let py = b.min.y as i64 + gy as i64;
                    if px < 0 || py < 0 || px as usize >= w || py as usize >= h {
                        return;
                    }
                    let cov = if st.bold { (cov * 1.3).min(1.0) } else { cov };
                    let o = (py as usize * w + px as usize) * 3;
                    for k in 0..3 {
                        let v = img[o + k] as f32 * (1.0 - cov) + fg[k] as f32 * cov;
                        img[o + k] = v.round() as u8;
                    }
                });
            }
        }
    }
    let file = std::fs::File::create(&args[3])?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w as u32, h as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()?.write_image_data(&img)?;
    Ok(())
}

//! Colours: a dark and a light palette, and none at all when `NO_COLOR` is
//! set (<https://no-color.org>), where emphasis is carried by bold,
//! reversed and underlined text instead.

use ratatui::style::{Color, Modifier, Style};

/// Which palette.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThemeKind {
    /// Light text on a dark terminal.
    Dark,
    /// Dark text on a light terminal.
    Light,
    /// No colours (`NO_COLOR`): modifiers only.
    Mono,
}

/// The styles every screen draws with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Theme {
    /// Which palette this is.
    pub kind: ThemeKind,
    /// Ordinary text.
    pub text: Style,
    /// Secondary text: units, hints, axis labels.
    pub dim: Style,
    /// Titles and the selected tab.
    pub title: Style,
    /// The selected row of a list or table.
    pub selected: Style,
    /// Good news: SLO met, savings.
    pub good: Style,
    /// Bad news: SLO missed, errors, reclaims.
    pub bad: Style,
    /// Worth a look: notices, denials, preemptions.
    pub warn: Style,
    /// Borders.
    pub border: Style,
    /// Series colours, in the order series are drawn.
    pub series: [Style; 6],
}

impl Theme {
    /// The palette for `kind`.
    pub fn new(kind: ThemeKind) -> Theme {
        let fg = |c: Color| Style::new().fg(c);
        match kind {
            ThemeKind::Dark => Theme {
                kind,
                text: Style::new(),
                dim: fg(Color::DarkGray),
                title: fg(Color::Cyan).add_modifier(Modifier::BOLD),
                selected: Style::new().bg(Color::Blue).fg(Color::White).add_modifier(Modifier::BOLD),
                good: fg(Color::Green),
                bad: fg(Color::LightRed),
                warn: fg(Color::Yellow),
                border: fg(Color::DarkGray),
                series: [
                    fg(Color::Cyan),
                    fg(Color::LightMagenta),
                    fg(Color::Yellow),
                    fg(Color::LightGreen),
                    fg(Color::LightBlue),
                    fg(Color::LightRed),
                ],
            },
            ThemeKind::Light => Theme {
                kind,
                text: Style::new(),
                dim: fg(Color::Gray),
                title: fg(Color::Blue).add_modifier(Modifier::BOLD),
                selected: Style::new().bg(Color::LightBlue).fg(Color::Black).add_modifier(Modifier::BOLD),
                good: fg(Color::Green),
                bad: fg(Color::Red),
                warn: fg(Color::Magenta),
                border: fg(Color::Gray),
                series: [fg(Color::Blue), fg(Color::Magenta), fg(Color::Red), fg(Color::Green), fg(Color::Cyan), fg(Color::Black)],
            },
            ThemeKind::Mono => {
                let m = |x: Modifier| Style::new().add_modifier(x);
                Theme {
                    kind,
                    text: Style::new(),
                    dim: Style::new(),
                    title: m(Modifier::BOLD),
                    selected: m(Modifier::REVERSED),
                    good: Style::new(),
                    bad: m(Modifier::BOLD),
                    warn: m(Modifier::UNDERLINED),
                    border: Style::new(),
                    series: [Style::new(); 6],
                }
            }
        }
    }

    /// Dark unless `light`, and no colours at all when `no_color` (the
    /// caller reads `NO_COLOR`, so tests need not touch the environment).
    pub fn choose(light: bool, no_color: bool) -> Theme {
        Theme::new(if no_color {
            ThemeKind::Mono
        } else if light {
            ThemeKind::Light
        } else {
            ThemeKind::Dark
        })
    }

    /// The `i`th series colour, cycling.
    pub fn series(&self, i: usize) -> Style {
        self.series[i % self.series.len()]
    }

    /// The other of dark and light (mono stays mono: the user asked for no colour).
    pub fn toggled(&self) -> Theme {
        match self.kind {
            ThemeKind::Dark => Theme::new(ThemeKind::Light),
            ThemeKind::Light => Theme::new(ThemeKind::Dark),
            ThemeKind::Mono => *self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_means_no_colour_anywhere() {
        let t = Theme::choose(false, true);
        for s in [t.text, t.dim, t.title, t.selected, t.good, t.bad, t.warn, t.border].iter().chain(t.series.iter()) {
            assert_eq!(s.fg, None);
            assert_eq!(s.bg, None);
        }
        assert_eq!(t.toggled(), t);
        assert_eq!(Theme::choose(true, false).toggled().kind, ThemeKind::Dark);
    }
}

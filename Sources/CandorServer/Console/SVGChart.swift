import Foundation

/// Small charts drawn on the server as SVG: no script, no charting library, no inline style (colours
/// come from classes in console.css, so the strict CSP holds). Every chart is an image with a title
/// and a description for screen readers (`role="img"`, `aria-labelledby`); the page puts the same
/// numbers in a table beside it. In a right-to-left page the time axis runs right to left.
enum SVGChart {
    /// One line of a time chart.
    struct Series {
        var name: String
        /// A class in console.css that colours the line and its legend swatch (`series-a`, `series-b`).
        var cssClass: String
        var values: [Double]
    }

    /// Lines over days: `labels` name the x positions (dates), the y axis starts at 0.
    static func lines(id: String, title: String, description: String, labels: [String], series: [Series], rightToLeft: Bool,
                      width: Double = 720, height: Double = 240) -> String {
        let (left, right, top, bottom) = (48.0, 16.0, 16.0, 32.0)
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        let count = max(1, labels.count)
        let peak = niceCeiling(series.flatMap(\.values).max() ?? 0)
        // In RTL the y axis stands on the right and time runs leftwards.
        let axisX = rightToLeft ? width - left : left
        func x(_ index: Int) -> Double {
            let share = count == 1 ? 0.5 : Double(index) / Double(count - 1)
            return rightToLeft ? (width - left) - share * plotWidth : left + share * plotWidth
        }
        func y(_ value: Double) -> Double { top + plotHeight - (peak == 0 ? 0 : value / peak * plotHeight) }
        var svg = """
        <svg class="chart" viewBox="0 0 \(format(width)) \(format(height))" direction="ltr" role="img" aria-labelledby="\(id)-title \(id)-desc" \
        xmlns="http://www.w3.org/2000/svg"><title id="\(id)-title">\(escape(title))</title><desc id="\(id)-desc">\(escape(description))</desc>
        """
        for step in 0...4 {
            let value = peak * Double(step) / 4
            let lineY = y(value)
            svg += "<line class=\"grid\" x1=\"\(format(left))\" x2=\"\(format(width - right))\" y1=\"\(format(lineY))\" y2=\"\(format(lineY))\"/>"
            let labelX = rightToLeft ? axisX + 6 : axisX - 6
            svg += "<text class=\"axis\" x=\"\(format(labelX))\" y=\"\(format(lineY + 4))\" text-anchor=\"\(rightToLeft ? "start" : "end")\">\(escape(compact(value)))</text>"
        }
        // Dates under the axis: the first, the middle and the last.
        for index in Set([0, (count - 1) / 2, count - 1]).sorted() where index < labels.count {
            let anchor = index == 0 ? (rightToLeft ? "end" : "start") : index == count - 1 ? (rightToLeft ? "start" : "end") : "middle"
            svg += "<text class=\"axis\" x=\"\(format(x(index)))\" y=\"\(format(height - 10))\" text-anchor=\"\(anchor)\">\(escape(labels[index]))</text>"
        }
        for line in series {
            let points = line.values.enumerated().map { "\(format(x($0.offset))),\(format(y($0.element)))" }.joined(separator: " ")
            svg += "<polyline class=\"line \(line.cssClass)\" points=\"\(points)\"/>"
            if line.values.count <= 31 {
                for (index, value) in line.values.enumerated() {
                    svg += "<circle class=\"dot \(line.cssClass)\" cx=\"\(format(x(index)))\" cy=\"\(format(y(value)))\" r=\"3\"/>"
                }
            }
        }
        return svg + "</svg>"
    }

    /// One bar of a bar chart: its label, its value as a share from 0 to 1, and the text shown at its end.
    struct Bar {
        var label: String
        var share: Double
        var text: String
    }

    /// Horizontal bars from 0 to 100 %, one per row, labelled; mirrored in right-to-left pages.
    static func bars(id: String, title: String, description: String, bars: [Bar], rightToLeft: Bool, width: Double = 560) -> String {
        let (labelWidth, valueWidth, rowHeight) = (190.0, 64.0, 30.0)
        let height = max(1, Double(bars.count)) * rowHeight + 8
        let barSpace = width - labelWidth - valueWidth - 16
        var svg = """
        <svg class="chart" viewBox="0 0 \(format(width)) \(format(height))" direction="\(rightToLeft ? "rtl" : "ltr")" role="img" aria-labelledby="\(id)-title \(id)-desc" \
        xmlns="http://www.w3.org/2000/svg"><title id="\(id)-title">\(escape(title))</title><desc id="\(id)-desc">\(escape(description))</desc>
        """
        for (index, bar) in bars.enumerated() {
            let rowY = Double(index) * rowHeight + 4
            let length = max(0, min(1, bar.share)) * barSpace
            let trackStart = rightToLeft ? width - labelWidth - barSpace : labelWidth
            let barStart = rightToLeft ? width - labelWidth - length : labelWidth
            let labelX = rightToLeft ? width - 4 : 4
            let valueX = rightToLeft ? trackStart - 8 : labelWidth + barSpace + 8
            svg += "<text class=\"label\" x=\"\(format(labelX))\" y=\"\(format(rowY + 19))\" text-anchor=\"start\">\(escape(truncate(bar.label, 26)))</text>"
            svg += "<rect class=\"track\" x=\"\(format(trackStart))\" y=\"\(format(rowY + 6))\" width=\"\(format(barSpace))\" height=\"16\" rx=\"4\"/>"
            svg += "<rect class=\"bar\" x=\"\(format(barStart))\" y=\"\(format(rowY + 6))\" width=\"\(format(length))\" height=\"16\" rx=\"4\"/>"
            svg += "<text class=\"value\" x=\"\(format(valueX))\" y=\"\(format(rowY + 19))\" text-anchor=\"start\">\(escape(bar.text))</text>"
        }
        return svg + "</svg>"
    }

    /// A round number at or above `value` for the top of an axis (1, 2, 2.5 or 5 times a power of ten).
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0 else { return 4 }
        let power = pow(10, floor(log10(value)))
        for step in [1.0, 2, 2.5, 5, 10] where step * power >= value { return step * power }
        return 10 * power
    }

    /// 1234 → "1.2k", 2_500_000 → "2.5M".
    static func compact(_ value: Double) -> String {
        switch value {
        case 1_000_000...: return trimmed(value / 1_000_000) + "M"
        case 10_000...: return trimmed(value / 1000) + "k"
        default: return value == value.rounded() ? String(Int(value)) : trimmed(value)
        }
    }

    static func trimmed(_ value: Double) -> String {
        let text = String(format: "%.1f", value)
        return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }

    static func format(_ value: Double) -> String { String(format: "%.1f", value) }

    static func truncate(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }

    /// Escapes text for XML content and attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}

extension Double {
    /// Rounded to `places` decimals and written with exactly that many (`0.5.fixed(2)` is
    /// `0.50`): the one way every figure diffai prints is written (scores, rates, timings,
    /// training metrics), so the same value reads the same in the terminal, alert.log, EVE and
    /// the console.
    public func fixed(_ places: Int) -> String {
        precondition(places >= 0 && places <= 9, "0 to 9 decimals")
        guard isFinite else { return isNaN ? "nan" : self < 0 ? "-inf" : "inf" }
        var scale: Int64 = 1
        for _ in 0..<places { scale *= 10 }
        let scaled = (magnitude * Double(scale)).rounded()
        // Beyond what Int64 holds at this scale: the shortest form is as exact as it gets.
        guard scaled < 9.0e18 else { return String(self) }
        let units = Int64(scaled)
        let sign = self < 0 && units != 0 ? "-" : ""
        guard places > 0 else { return sign + String(units) }
        let fraction = String(units % scale)
        return sign + String(units / scale) + "." + String(repeating: "0", count: places - fraction.count) + fraction
    }
}
